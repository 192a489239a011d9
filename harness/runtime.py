"""A run's live parts: the mock IdP on loopback, the target (started here when embedded), hooks.

target.toml + profile -> Runtime starts the mock IdP (its metadata handed to the target), reads the
target's SP metadata back and registers it with the IdP; scenarios then ask the IdP for responses.
"""
from __future__ import annotations

import importlib
import os
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .errors import ConfigError, HarnessError, SamlconfError, TargetError, one_line
from .profiles import Profile, load_profile
from .serving import LoopbackServer
from .target import REFSP_TOKEN_VAR, Target, expand_env

# IRT-08 waits out the SP's declared request lifetime: only up to this many seconds
MAX_LIFETIME_WAIT = 120



def json_path(data: Any, path: str | None) -> Any:
    """Follow a dotted path (`a.b.0.c`) into JSON; None when absent."""
    if not path:
        return data
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
        if cur is None:
            return None
    return cur


@dataclass
class EmbeddedSP:
    server: LoopbackServer | None  # None when the SP runs as a process of its own
    workdir: Path
    token: str


class Runtime:
    """Context manager owning the mock IdP, the embedded SP (if any) and the target's hooks."""

    def __init__(
        self,
        target: Target,
        *,
        mutants: tuple[str, ...] = (),
        workdir: Path | None = None,
        seed: int | None = None,
        router: Any = None,
        worker: int = 0,
        sp_process: bool = False,
        sp_log: Path | None = None,
    ) -> None:
        """`router` (a harness.idp_router.RouterLink): this runtime is one worker of a run whose
        public IdP endpoint is the router; `worker` (0, 1, ...) keeps generated users apart.
        `sp_process`: the bundled reference SP runs as a process of its own (its own core and
        GIL; what `samlconf run` does), its log in `sp_log`; else in a thread of this process."""
        self.target = target.model_copy(deep=True)
        self.profile: Profile = load_profile(target.profile)
        self.mutants = tuple(mutants) + tuple(target.embedded.mutants if target.embedded else ())
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="samlconf-"))
        self.seed = seed if seed is not None else secrets.randbelow(2**31)
        self.secrets: dict[str, str] = {}
        self.idp: Any = None
        self.idp_server: LoopbackServer | None = None
        self.embedded: EmbeddedSP | None = None
        self.dns_zone: Any = None  # a loopback TXT zone the embedded SP resolves with (harness/dnszone.py)
        self.sp_entity_id: str = ""
        self.adapter: Any = None
        verify: Any = True
        if target.ca_file is not None:  # an HTTPS target with a private CA: metadata and hooks too
            import ssl

            verify = ssl.create_default_context(cafile=str(target.ca_file))
        self._http = httpx.Client(timeout=httpx.Timeout(target.timeouts.read, connect=target.timeouts.connect),
                                  verify=verify)
        self._user_counter = 0
        self.router = router
        self.worker = worker
        self.sp_process = sp_process
        self.sp_log = sp_log
        self._sp_proc: Any = None
        self._identities: set[str] = set()
        self._lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "Runtime":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from mock_idp.idp import MockIdP

        t = self.target
        try:
            # behind a router, this worker's IdP listens privately; the router has the public port
            self.idp_server = LoopbackServer("127.0.0.1", 0) if self.router else LoopbackServer(t.idp.host, t.idp.port)
        except OSError as exc:
            src = f"{t._source}: " if t._source else ""
            raise ConfigError(f"{src}field 'idp.port': the mock IdP cannot listen on {t.idp.host}:{t.idp.port} "
                              f"({os.strerror(exc.errno) if exc.errno else exc.strerror}); free the port or "
                              "choose another") from None
        from mock_idp.keys import load_or_create

        # The IdP publishes, as real IdPs mid-rollover do, a second signing key (POS-08) and a key
        # for encryption only (KEY-06); all three cached next to the main key.
        public = self.router.url if self.router else self.idp_server.base_url
        self.idp = MockIdP(t.idp.entity_id, base_url=public, profile=self.profile.name,
                           route=self.router.route if self.router else "",
                           extra_signing_keys=[load_or_create(t.idp.entity_id + " rollover")],
                           encryption_keys=[load_or_create(t.idp.entity_id + " encryption")],
                           scopes=[t.testdata.email_domain])  # shibmd:Scope: the run's users' domain (TEN-05)
        self.idp_server.start(self.idp.app())
        if self.router:
            self.router.register(self.idp_server.base_url)
        if t.embedded is not None:
            self._start_embedded()
        self.adapter = self._load_adapter()
        self._configure_idp()
        self.sp_metadata = self._read_sp_metadata()
        from mock_idp.metadata import MetadataError

        try:
            info = self.idp.register_sp(self.sp_metadata)
        except MetadataError as exc:  # the target's metadata is unusable: the target's error, one line
            where = self.target.sp.metadata_file or self.target.url(self.target.sp.metadata_url or "")
            raise TargetError(f"SP metadata {where}: {one_line(exc)}") from None
        self.sp_entity_id = info.entity_id
        from .sp_metadata import read_policy

        self.sp_policy = read_policy(self.sp_metadata, self.target, info.entity_id)

    def _start_embedded(self) -> None:
        from reference_sp.app import SPConfig, create_app
        from reference_sp.mutants import MUTANTS

        for m in self.mutants:
            if m not in MUTANTS:
                raise ConfigError(f"mutant {m!r}: unknown; `samlconf sp mutants` lists them")
        from .dnszone import DnsZone

        server = LoopbackServer()
        token = secrets.token_urlsafe(24)
        self.dns_zone = DnsZone().start()
        cfg = SPConfig(
            base_url=server.base_url,
            idp_metadata=self.idp.metadata_xml(),
            db_path=self.workdir / "reference_sp.sqlite",
            profile=self.profile.name,
            mutants=frozenset(self.mutants),
            admin_token=token,
            dns_resolver=self.dns_zone.address,
            want_assertions_signed=self.target.embedded.want_assertions_signed if self.target.embedded else "true",
            sign_authn_requests=bool(self.target.embedded and self.target.embedded.sign_authn_requests),
            second_acs=bool(self.target.embedded and self.target.embedded.second_acs),
            request_authn_context=self._embedded_authn_context(),
            request_lifetime=self._embedded_request_lifetime(),
            request_name_id_format=self._embedded_name_id_format(),
            scoped_attribute=self.profile.attributes.scoped,
        )
        from mock_idp.keys import KeyTrustError

        if self.sp_process:
            server.stop()  # the port was only reserved: the SP process listens on it
            self._spawn_sp(cfg)
            self.embedded = EmbeddedSP(None, self.workdir, token)
            self.target.base_url = cfg.base_url
            self.secrets[REFSP_TOKEN_VAR] = token
            return
        try:
            app = create_app(cfg)
        except KeyTrustError as exc:
            server.stop()
            raise ConfigError(f"reference SP keys: {exc}") from None
        server.start(app)
        self.embedded = EmbeddedSP(server, self.workdir, token)
        self.target.base_url = server.base_url
        self.secrets[REFSP_TOKEN_VAR] = token

    def _embedded_authn_context(self) -> str | None:
        """The class the reference SP requests (its `[embedded] request_authn_context`, or MFA under
        the `ignores_authn_context` mutant), declared as its [sp.policy] requested_authn_context too."""
        emb = self.target.embedded
        ac = (emb.request_authn_context if emb else None) or \
            ("https://refeds.org/profile/mfa" if "ignores_authn_context" in self.mutants else None)
        pol = self.target.sp.policy
        if ac and pol.requested_authn_context is None:
            self.target.sp.policy = pol.model_copy(update={"requested_authn_context": ac})
        return ac

    def _embedded_name_id_format(self) -> str | None:
        """The NameID Format the reference SP asks for (`[embedded] request_name_id_format`, or
        persistent under the `ignores_name_id_policy` mutant), declared as [sp.policy] name_id_format."""
        emb = self.target.embedded
        fmt = (emb.request_name_id_format if emb else None) or \
            ("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" if "ignores_name_id_policy" in self.mutants
             else None)
        pol = self.target.sp.policy
        if fmt and pol.name_id_format is None:
            self.target.sp.policy = pol.model_copy(update={"name_id_format": fmt})
        return fmt

    def _embedded_request_lifetime(self) -> int:
        """The reference SP's pending-request lifetime (`[embedded] request_lifetime_seconds`; 5 s
        under the `pending_requests_never_expire` mutant, which then ignores it), declared as its
        [sp.policy] request_lifetime_seconds too."""
        emb = self.target.embedded
        life = (emb.request_lifetime_seconds if emb else None) or \
            (5 if "pending_requests_never_expire" in self.mutants else None)
        pol = self.target.sp.policy
        if life and pol.request_lifetime_seconds is None:
            self.target.sp.policy = pol.model_copy(update={"request_lifetime_seconds": life})
        return life or 600

    def _spawn_sp(self, cfg: Any) -> None:
        """`samlconf sp serve --config FILE` as a child process; ready when its metadata answers."""
        import subprocess
        import sys
        import time

        conf = self.workdir / "reference_sp.json"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the admin token
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(cfg.to_json())
        log_path = self.sp_log or self.workdir / "reference_sp.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")
        try:
            self._sp_proc = subprocess.Popen(
                [sys.executable, "-m", "reference_sp.cli", "sp", "serve", "--config", str(conf)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_parent)
        finally:
            log.close()
        url = f"{cfg.base_url}/saml/metadata"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._sp_proc.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["?"]
                raise ConfigError(f"the reference SP process exited ({tail[0]}); its log: {log_path}")
            try:
                if self._http.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise ConfigError(f"the reference SP process did not answer at {url} within 60 s; its log: {log_path}")

    def _configure_idp(self) -> None:
        """The optional `configure_idp` hook hands the target this run's IdP (for targets that can be
        configured automatically): placeholders {idp_metadata_url}, {idp_entity_id}, {idp_sso_url},
        and {idp_metadata} (the XML itself) in its URL or JSON body."""
        if "configure_idp" not in self.target.hooks and not callable(getattr(self.adapter, "configure_idp", None)):
            return
        self.call_hook(
            "configure_idp",
            idp_metadata_url=f"{self.idp_base_url}/metadata",
            idp_entity_id=self.target.idp.entity_id,
            idp_sso_url=f"{self.idp_base_url}/sso",
            idp_metadata=self.idp.metadata_xml().decode("utf-8"),
        )

    def _read_sp_metadata(self) -> bytes:
        sp = self.target.sp
        if sp.metadata_file is not None:
            try:
                return sp.metadata_file.read_bytes()
            except OSError as exc:
                raise ConfigError(f"sp.metadata_file {sp.metadata_file}: cannot read ({exc.strerror})") from None
        assert sp.metadata_url is not None
        url = self.target.url(sp.metadata_url)
        try:
            resp = self._http.get(url)
        except httpx.HTTPError as exc:
            raise TargetError(f"SP metadata {url}: cannot fetch ({' '.join(str(exc).split()) or type(exc).__name__})") from None
        if resp.status_code != 200:
            raise TargetError(f"SP metadata {url}: HTTP {resp.status_code}")
        return resp.content

    def stop(self) -> None:
        if self.dns_zone is not None:
            self.dns_zone.stop()
        if self._sp_proc is not None:  # our own child, by pid
            self._sp_proc.terminate()
            try:
                self._sp_proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - it must go: kill it
                self._sp_proc.kill()
            self._sp_proc = None
        for server in (self.embedded.server if self.embedded else None, self.idp_server):
            if server is not None:
                try:
                    server.stop()
                except Exception:  # noqa: BLE001 - stopping must not mask the run's outcome
                    pass
        self._http.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- facts ----------------------------------------------------------------------------
    @property
    def idp_base_url(self) -> str:
        """The IdP's public base URL (the router's, in a run with workers)."""
        assert self.idp is not None
        return self.idp.base_url

    def allowed_origins(self) -> set[str]:
        from .drivers.http import origin

        out = {origin(self.idp_base_url)}
        for url in (self.target.base_url, self.target.login.sp_initiated_url, self.target.whoami.url):
            if url and "://" in url:
                out.add(origin(url))
        return out

    def capabilities(self) -> dict[str, str | None]:
        have = self.target.capabilities(self.profile, self.adapter)
        if have.get("dns_zone") is None and self.dns_zone is None:
            have["dns_zone"] = "the target does not resolve DNS through samlconf's loopback zone " \
                               "(only the embedded reference SP does)"
        pol = getattr(self, "sp_policy", None)
        if pol is not None:
            have["want_assertions_signed"] = None if pol.wants_signed_assertions else (
                pol.describe_want_assertions_signed() + " (set [sp.policy] want_assertions_signed = true "
                "if it requires signed Assertions)")
            have["require_signed_response"] = None if pol.requires_signed_response else (
                pol.describe_require_signed_response() + " (set [sp.policy] require_signed_response = true "
                "if it does)")
            have["encryption_key"] = None if pol.encryption_certs else \
                "the SP's metadata publishes no encryption key (KeyDescriptor use=\"encryption\")"
            have["authn_requests_signed"] = None if pol.authn_requests_signed else (
                "the SP's metadata does not say AuthnRequestsSigned=\"true\"" if pol.authn_requests_signed is None
                else "the SP's metadata says AuthnRequestsSigned=\"false\"")
            post_acs = {e.location for e in pol.acs if e.binding.endswith("HTTP-POST")}
            have["multiple_acs"] = None if len(post_acs) > 1 else \
                f"the SP's metadata publishes {len(post_acs)} HTTP-POST AssertionConsumerService endpoint(s), not two"
            have["require_encrypted_assertions"] = None if pol.requires_encrypted_assertions else (
                "the SP does not declare that it requires encrypted Assertions (set [sp.policy] "
                "require_encrypted_assertions = true if it does)")
            life = pol.request_lifetime_seconds
            have["request_lifetime"] = None if life and life <= MAX_LIFETIME_WAIT else (
                f"the SP's request lifetime, {life} s, is longer than samlconf waits ({MAX_LIFETIME_WAIT} s)" if life
                else "the target file does not state the SP's request lifetime ([sp.policy] request_lifetime_seconds)")
            have["name_id_policy_format"] = None if pol.name_id_format else (
                "the SP does not declare a NameIDPolicy Format it asks for ([sp.policy] name_id_format)")
            have["requested_authn_context"] = None if pol.requested_authn_context else (
                "the SP does not declare an authentication context it requires (set [sp.policy] "
                "requested_authn_context = \"CLASS\" if it does)")
        else:
            have["want_assertions_signed"] = have["encryption_key"] = have["require_signed_response"] = \
                have["authn_requests_signed"] = have["multiple_acs"] = have["require_encrypted_assertions"] = \
                have["requested_authn_context"] = have["request_lifetime"] = have["name_id_policy_format"] = \
                "the SP's metadata was not read"
        for cap in self.target.capabilities_off:
            have[cap] = "switched off in the target file (capabilities_off)"
        return have

    @property
    def accepts_unsolicited(self) -> bool:
        """Does the SP accept unsolicited (IdP-initiated) Responses (profile and target file)?"""
        return self.target.accepts_unsolicited(self.profile)

    def _load_adapter(self) -> Any:
        """`adapter = "pkg.module:Class"`: an object whose methods are the hooks (`list_users()`, ...).
        It is made with the runtime, so it can reach the target's URLs and the secrets."""
        spec = self.target.adapter
        if not spec:
            return None
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise ConfigError(f"adapter {spec!r}: write it as 'package.module:Class'")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"adapter {spec!r}: cannot import ({one_line(exc)})") from None
        return cls(self)

    def claim_identity(self, email: str) -> bool:
        """True the first time an identity is handed out in this run (scenarios never share users)."""
        key = email.lower()
        with self._lock:
            if key in self._identities:
                return False
            self._identities.add(key)
            return True

    def next_seed(self) -> int:
        self._user_counter += 1
        return self.seed * 1000 + self._user_counter + self.worker * 1_000_000

    # --- hooks ----------------------------------------------------------------------------
    def has_hook(self, name: str) -> bool:
        """The target has this hook (in its file, or as a method of its adapter)."""
        return name in self.target.hooks or callable(getattr(self.adapter, name, None))

    def call_hook(self, name: str, **values: Any) -> Any:
        """Call an admin hook of the target (file table or adapter method); returns its JSON at
        json_path. Any 4xx/5xx is the target's error."""
        status, data = self.call_hook_status(name, **values)
        if status >= 400:
            detail = data.get("error") if isinstance(data, dict) else None
            raise TargetError(f"hook {name}: HTTP {status}" + (f" ({detail})" if detail else ""))
        return data

    def call_hook_status(self, name: str, **values: Any) -> tuple[int, Any]:
        """Call a hook and return (HTTP status, JSON). `values` fill `{name}` placeholders in the
        hook's URL and JSON body (a body string that is exactly "{name}" takes the value as it is:
        a number, list or boolean). A refusal (4xx) is an answer, returned with its whole JSON;
        only transport failures and 5xx raise."""
        hook = self.target.hooks.get(name)
        if hook is None and callable(getattr(self.adapter, name, None)):
            try:
                return 200, getattr(self.adapter, name)(**values)
            except SamlconfError:
                raise
            except Exception as exc:  # noqa: BLE001 - the adapter is the target's code: its failure is the target's
                raise TargetError(f"adapter hook {name}: {type(exc).__name__}: {one_line(exc)}") from None
        if hook is None:
            raise HarnessError(f"target has no {name!r} hook")
        where = f"hooks.{name}"
        url = expand_env(self.target.url(hook.url, **{k: str(v) for k, v in values.items()}), where, self.secrets)
        headers = {k: expand_env(v, where, self.secrets) for k, v in hook.headers.items()}
        body = fill_placeholders(hook.json_body, values) if hook.json_body is not None else None
        try:
            resp = self._http.request(hook.method, url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            raise TargetError(f"hook {name} {url}: {' '.join(str(exc).split()) or type(exc).__name__}") from None
        if resp.status_code >= 500:
            raise TargetError(f"hook {name} {url}: HTTP {resp.status_code}")
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            if resp.status_code < 400:
                raise TargetError(f"hook {name} {url}: answer is not JSON") from None
            data = None
        return resp.status_code, (json_path(data, hook.json_path) if resp.status_code < 400 else data)


def _die_with_parent() -> None:
    """In the SP child, before exec: Linux sends it SIGTERM when samlconf dies, even by SIGKILL, so a
    killed run never leaves the reference SP running (elsewhere a no-op)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def fill_placeholders(value: Any, values: dict[str, Any]) -> Any:
    """`{name}` placeholders in a hook's JSON body: a string that is exactly "{name}" takes the
    value as it is; inside a longer string the value is put in as text."""
    if isinstance(value, dict):
        return {k: fill_placeholders(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(v, values) for v in value]
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in values:
            return values[value[1:-1]]
        for k, v in values.items():
            value = value.replace("{" + k + "}", str(v))
    return value
