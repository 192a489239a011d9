"""The one verdict function, and the observation it judges.

An observation is what the SP's state shows after the hop (who the whoami probe says is signed in,
what the user store holds), compared with what the scenario intended. Never an HTTP status alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .registry import Level, Outcome


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"
    NOT_TESTED = "not-tested"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


# What `signed_in` holds when the whoami answer shows a session but nothing at the identity path:
# someone is signed in, we cannot tell who. Never "nobody", never a named identity.
UNKNOWN = "<signed in, identity unknown>"


@dataclass
class Check:
    """One fact about the SP's state that an ACCEPT scenario requires (e.g. 'user was provisioned').

    ok=None: the SP does not show the fact (e.g. its whoami answer has no such field): it cannot be
    judged, so the verdict is inconclusive, never a failure of the SP."""

    name: str
    ok: bool | None
    detail: str = ""
    always: bool = False  # still counts when the SP refuses an expected-ACCEPT login (e.g. "never off-site")
    level: Level | None = None  # a weaker requirement than the scenario's (e.g. a SHOULD beside a MUST)


@dataclass
class Observation:
    """What the SP's state shows after the scenario's hops.

    signed_in: the principal the whoami probe reports (None = nobody signed in; UNKNOWN = a session
      whose identity the harness cannot read);
    intended: the principal the scenario's response asserted, or tried to get signed in (the victim
      of a forged/wrapped message);
    signed_as: the identity the IdP genuinely signed in a forged/wrapped message (the attacker's own);
      None for plain scenarios. Signing in `signed_as` is lax parsing (warn), signing in `intended`
      (when different) a takeover (fail), anyone else inconclusive;
    signed_ok: signing in `signed_as` is the correct outcome (the message is valid as signed, e.g. a
      comment inside a signed NameID): only another identity is a finding;
    policy: the SP's declared policy that allows it to refuse this (expected ACCEPT) message: a
      refusal is then `info`, not a failure;
    refusal_ok: why refusing the whole login is as safe as the accepted outcome ("accept, but never
      X" scenarios): a refusal then passes;
    observable: False when the outcome could not be observed at all.
    """

    signed_in: str | None
    intended: str | None
    observable: bool = True
    checks: list[Check] = field(default_factory=list)
    note: str = ""
    signed_as: str | None = None
    signed_ok: bool = False
    policy: str | None = None
    refusal_ok: str | None = None

    @property
    def accepted(self) -> bool:
        return self.signed_in is not None

    @property
    def identity_known(self) -> bool:
        return self.signed_in is not None and self.signed_in != UNKNOWN

    def check(self, name: str, ok: bool | None, detail: str = "", *, always: bool = False,
              level: Level | str | None = None) -> "Observation":
        self.checks.append(Check(name, ok, detail, always, Level(level) if level else None))
        return self


_FAILING = {Level.MUST: Verdict.FAIL, Level.SHOULD: Verdict.WARN, Level.MAY: Verdict.INFO}
# How bad a verdict is, for picking the worse of two observations (wrapping variants).
SEVERITY = {Verdict.FAIL: 6, Verdict.ERROR: 5, Verdict.WARN: 4, Verdict.INCONCLUSIVE: 3, Verdict.INFO: 2,
            Verdict.NOT_TESTED: 1, Verdict.PASS: 0}


def _with(note: str) -> str:
    return f" ({note})" if note else ""


def decide(
    expected: Outcome,
    level: Level,
    observation: Observation | None,
    *,
    error: str | None = None,
    missing: str | None = None,
    control_failed: str | None = None,
) -> tuple[Verdict, str]:
    """Return (verdict, one-line reason). The only place verdicts are made."""
    if error:
        return Verdict.ERROR, error
    if missing:
        return Verdict.NOT_TESTED, missing
    if control_failed:
        return Verdict.INCONCLUSIVE, f"positive control failed: {control_failed}"
    if observation is None or not observation.observable:
        why = observation.note if observation is not None and observation.note else "outcome not observable"
        return Verdict.INCONCLUSIVE, why
    bad = _FAILING[level]
    obs = observation
    # the most severe failed check first; a check's own (weaker) level sets the verdict it gives
    order = {Level.MUST: 0, Level.SHOULD: 1, Level.MAY: 2}
    failed = sorted((c for c in obs.checks if c.ok is False), key=lambda c: order[c.level or level])

    def bad_for(c: Check) -> Verdict:
        return _FAILING[c.level or level]

    unseen = [c for c in obs.checks if c.ok is None]
    if expected is Outcome.ACCEPT:
        if not obs.accepted:
            still = [c for c in failed if c.always]  # e.g. "never off-site": a refusal does not hide it
            if still:
                c = still[0]
                return bad_for(c), f"nobody signed in, but a check failed: {c.name}" + (f" ({c.detail})" if c.detail else "")
            if obs.policy:
                return Verdict.INFO, f"refused by the SP's declared policy: {obs.policy}" + _with(obs.note)
            if obs.refusal_ok:
                return Verdict.PASS, f"SP refused the login: {obs.refusal_ok}" + _with(obs.note)
            return bad, "SP did not sign the user in" + _with(obs.note)
        if obs.signed_in == UNKNOWN:
            return Verdict.INCONCLUSIVE, ("someone is signed in, but the whoami answer shows no identity "
                                          "to compare" + (f" with {obs.intended!r}" if obs.intended else "")
                                          + _with(obs.note))
        if obs.intended is not None and obs.signed_in != obs.intended:
            return bad, f"SP signed in {obs.signed_in!r}, expected {obs.intended!r}" + _with(obs.note)
        if failed:
            c = failed[0]
            return bad_for(c), f"{c.name}: {c.detail}" if c.detail else c.name
        if unseen:
            c = unseen[0]
            return Verdict.INCONCLUSIVE, (f"signed in as {obs.signed_in!r}, but the SP does not show whether "
                                          f"{c.name}" + (f" ({c.detail})" if c.detail else ""))
        return Verdict.PASS, f"signed in as {obs.signed_in!r}" + "".join(
            f"; {c.name}" for c in obs.checks
        )
    # expected REJECT
    note = f"; {obs.note}" if obs.note else ""
    if obs.accepted:
        who = obs.signed_in
        if who == UNKNOWN:
            return Verdict.INCONCLUSIVE, ("someone is signed in, but the whoami answer shows no identity: "
                                          "the SP may have accepted the message" + note)
        if obs.signed_as is not None:
            if obs.intended is not None and who == obs.intended and who != obs.signed_as:
                return bad, f"SP signed in the forged identity {who!r}: account takeover{note}"
            if who == obs.signed_as:
                if obs.signed_ok:
                    if failed:
                        c = failed[0]
                        return bad_for(c), f"SP signed in the genuinely signed identity {who!r}, but {c.name}" + \
                            (f" ({c.detail})" if c.detail else "")
                    if unseen:
                        c = unseen[0]
                        return Verdict.INCONCLUSIVE, (f"SP signed in the genuinely signed identity {who!r}, but "
                                                      f"does not show whether {c.name}"
                                                      + (f" ({c.detail})" if c.detail else ""))
                    return Verdict.PASS, (f"SP signed in the genuinely signed identity {who!r}, "
                                          f"never {obs.intended!r}{note}")
                lax = Verdict.INFO if level is Level.MAY else Verdict.WARN
                return lax, (f"SP accepted the wrapped message but used the genuinely signed identity "
                             f"{who!r}; strict parsing would refuse it{note}")
            return Verdict.INCONCLUSIVE, (f"SP signed in {who!r}, neither the genuinely signed identity "
                                          f"{obs.signed_as!r} nor the forged {obs.intended!r}{note}")
        # a failed check of a stronger level than the scenario's (e.g. a MUST "fetched nothing" in a
        # SHOULD scenario) makes the acceptance that verdict, with that check named
        worst = failed[0] if failed and SEVERITY[bad_for(failed[0])] > SEVERITY[bad] else None
        also = f"; {worst.name} failed" + (f" ({worst.detail})" if worst.detail else "") if worst else ""
        verdict = bad_for(worst) if worst else bad
        if obs.intended is not None and who != obs.intended:
            return verdict, (
                f"SP accepted the response and signed in {who!r} "
                f"(the response asserted {obs.intended!r}){note}{also}"
            )
        return verdict, f"SP accepted the response and signed in {who!r}{note}{also}"
    if failed:
        c = failed[0]
        return bad_for(c), f"nobody signed in, but a check failed: {c.name} ({c.detail})" if c.detail \
            else f"nobody signed in, but a check failed: {c.name}"
    return Verdict.PASS, "SP refused: nobody signed in" + _with(obs.note)


def worse(expected: Outcome, level: Level, *observations: Observation) -> Observation:
    """The observation whose verdict is the worst (ties: the first): e.g. the two variants of a
    wrapping scenario, judged as one."""
    return max(observations, key=lambda o: SEVERITY[decide(expected, level, o)[0]])
