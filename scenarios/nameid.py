"""NID: what the SP keys accounts on. A transient NameID is no account key (NID-08); look-alike
identifiers never reach another, existing account (NID-09); an EncryptedID is read like a NameID
(NID-10). The NameID shape checks (NID-02/04..07/11) are in message_shape.py and structure.py.
"""
from __future__ import annotations

from typing import Any, Callable

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import fault, single_fault

NEVER_LINKED = ("Key accounts on a persistent identifier (a persistent NameID or subject-id) or a "
                "verified attribute, never on a transient NameID; treat transient values as session-only.")


# --- NID-08 ------------------------------------------------------------------------------------------
@scenario("NID-08", "A transient NameID is never an account key: the same transient value for another "
          "person does not sign in the first one", category="nameid",
          refs=("Core 8.3.8 (transient identifiers: temporary, not for long-term linking)",
                "S2I SDP-IDP12 (transient for logout only)", "catalogue NID-08"),
          needs=("sp_initiated",), expect=ACCEPT, fix_hint=NEVER_LINKED)
def nid_08(ctx: ScenarioContext) -> Observation:
    value = f"_transient{ctx.runtime.next_seed():08d}b7e1"

    def transient() -> list[Any]:
        return [fault("nameid-format", format="transient"), fault("nameid-value", value=value)]

    first = ctx.new_user()
    ctx.sp_login(first, transient())
    if ctx.whoami() is None:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the first login, with a transient NameID, failed")
    ctx.restart()
    second = ctx.new_user()
    ctx.sp_login(second, transient())
    obs = ctx.observe(second, store_check=False)
    obs.refusal_ok = "a refusal links nobody"
    obs.note = (f"transient NameID {value!r} issued for {ctx.email_of(first)}, then (a new transient "
                f"period) for {ctx.email_of(second)}")
    return obs


# --- NID-09 ------------------------------------------------------------------------------------------
_CYRILLIC = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
             "y": "\u0443", "i": "\u0456"}


def _swap_first(local: str, table: Callable[[str], str | None]) -> str | None:
    for i, ch in enumerate(local):
        other = table(ch)
        if other:
            return local[:i] + other + local[i + 1:]
    return None


def look_alikes(email: str) -> list[tuple[str, str]]:
    """(what, address) pairs that look like `email` (or fold to it under NFKC or confusable
    skeletons) but are other addresses."""
    local, _, domain = email.partition("@")
    out = []
    cyr = _swap_first(local, _CYRILLIC.get)
    if cyr:
        out.append(("a Cyrillic look-alike letter (UTS #39 confusable)", f"{cyr}@{domain}"))
    wide = _swap_first(local, lambda c: chr(ord(c) - ord("a") + 0xFF41) if "a" <= c <= "z" else None)
    if wide:
        out.append(("a fullwidth letter (NFKC folds it)", f"{wide}@{domain}"))
    out.append(("a zero-width space in the local part", f"{local[:1]}\u200b{local[1:]}@{domain}"))
    return out


@scenario("NID-09", "A look-alike identifier (confusable letter, NFKC form, zero-width space) never "
          "signs in the existing account it resembles", category="nameid",
          refs=("python3-saml fixture response_with_nested_nameid_values (normalisation)",
                "UTS #39 (confusables)", "catalogue NID-09"),
          needs=("sp_initiated",), expect=ACCEPT,
          fix_hint="Compare identifiers byte for byte (after a documented, consistent normalisation such as "
                   "case-folding the email domain); never fold look-alike or compatibility characters "
                   "onto an existing account.")
def nid_09(ctx: ScenarioContext) -> Observation:
    victim = ctx.new_user()
    ctx.sp_login(victim)
    if ctx.whoami() is None:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the existing account's own login failed")
    mine = ctx.email_of(victim)
    obs: Observation | None = None
    tried = []
    for what, address in look_alikes(mine):
        ctx.restart()
        user = ctx.new_user(email=address, name_id=address)
        ctx.sp_login(user)
        obs = ctx.observe(user, store_check=False)
        tried.append(f"{what}: {address!r}")
        if obs.identity_known and obs.signed_in.lower() == mine.lower():
            obs.note = f"{what}: {address!r} signed in the existing account {mine!r}"
            return obs
        if obs.accepted and obs.identity_known:
            obs.intended = obs.signed_in  # its own, new account: not the one it resembles
    assert obs is not None
    obs.refusal_ok = "a refusal reaches no existing account"
    obs.note = f"existing account {mine!r}; tried " + "; ".join(tried)
    return obs


# --- NID-10 ------------------------------------------------------------------------------------------
single_fault("NID-10", "An EncryptedID (the NameID encrypted to the SP's key) is decrypted and signs the "
             "user in", ["nameid-encrypted"], category="nameid", expect=ACCEPT,
             needs=("sp_initiated", "encryption_key"),
             refs=("Core 2.2.4 (EncryptedID)", "python3-saml NO_ENCRYPTED_NAMEID", "catalogue NID-10"),
             fix_hint="Decrypt saml:EncryptedID with the SP's encryption key and use the NameID inside it.")


# --- NID-01 (policy) ---------------------------------------------------------------------------------
def _nid_01(runtime: Any) -> Any:
    """REJECT where the SP declares that it requires a NameID ([sp.policy] requires_name_id), else
    ACCEPT as saml2int asks (a refusal is then `info`: the SP's policy, python3-saml's default)."""
    return REJECT if runtime.sp_policy.requires_name_id else ACCEPT


single_fault("NID-01", "A Subject without NameID: signs the user in by attributes (saml2int), or is refused "
             "where the SP declares that it requires a NameID", ["nameid-missing"], category="nameid",
             expect={"*": ACCEPT}, expect_when=_nid_01, level="MAY",
             refs=("S2I SDP-SP13/SP14 (SPs MUST NOT require a NameID)", "python3-saml wantNameId / NO_NAMEID",
                   "catalogue NID-01"),
             fix_hint="Identify users by a stable attribute (subject-id, pairwise-id, or the profile's email "
                      "attribute), so that an Assertion without NameID still signs the right user in.")


# --- NID-03 ------------------------------------------------------------------------------------------
@scenario("NID-03", "A NameID of another Format than the AuthnRequest's NameIDPolicy asked for is refused",
          category="nameid", refs=("Core 3.4.1.1 (the Format MUST be identical to the NameIDPolicy Format)",
                                   "catalogue NID-03"),
          needs=("sp_initiated", "name_id_policy_format"), expect=REJECT,
          fix_hint="Compare the NameID's Format with the NameIDPolicy Format the request asked for; refuse another.")
def nid_03(ctx: ScenarioContext) -> Observation:
    asked = ctx.runtime.sp_policy.name_id_format
    email = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    user = ctx.new_user()
    if asked == email:
        faults = [fault("nameid-format", format="persistent"),
                  fault("nameid-value", value=f"_nid03{ctx.runtime.next_seed():08d}")]
    else:
        faults = [fault("nameid-format", format="email"), fault("nameid-value", value=ctx.email_of(user))]
    ctx.sp_login(user, faults)
    obs = ctx.observe(user, store_check=False)
    obs.note = f"asked for {asked}; sent {'a persistent' if asked == email else 'an emailAddress'} NameID"
    return obs
