# Shared by the lab's install scripts:  . "$LAB_REPO/lab/apt.sh"; apt_need PACKAGE VERSION_PREFIX ...
# Installs each Debian package unless it is installed at a version starting with VERSION_PREFIX
# (the pin: upstream version, so a Debian security revision still satisfies it), then checks the
# pin. Services are never started by the install (policy-rc.d says 101 while it runs): the lab
# starts its own private instances.
apt_need() {
  local missing=() pkg want have
  while [ $# -ge 2 ]; do
    pkg=$1 want=$2; shift 2
    have=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null | sed -n 's/^install ok installed //p')
    case "$have" in "$want"*) ;; *) missing+=("$pkg") ;; esac
    pins+=("$pkg=$want")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "lab: need root to install: ${missing[*]}" >&2; return 2; }
    echo "lab: installing Debian packages: ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
    fi
    # fresh package lists: on a new machine the stored ones may name revisions the mirror dropped
    apt-get update -qq -o DPkg::Lock::Timeout=600 || echo "lab: apt-get update failed; trying the stored lists"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${missing[@]}"
    local rc=$?
    [ -n "$made_policy" ] && rm -f "$policy"
    [ $rc -eq 0 ] || return $rc
  fi
  local p
  for p in "${pins[@]}"; do
    pkg=${p%%=*} want=${p#*=}
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)
    case "$have" in "$want"*) ;; *) echo "lab: $pkg is $have, the lab pins $want" >&2; return 1 ;; esac
  done
  pins=()
}
