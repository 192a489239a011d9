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


@dataclass
class Check:
    """One fact about the SP's state that an ACCEPT scenario requires (e.g. 'user was provisioned')."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Observation:
    """What the SP's state shows after the scenario's hops.

    signed_in: the principal the whoami probe reports (None = nobody signed in);
    observable: False when the outcome could not be observed at all;
    intended: the principal the scenario's response asserted (or tried to impersonate).
    """

    signed_in: str | None
    intended: str | None
    observable: bool = True
    checks: list[Check] = field(default_factory=list)
    note: str = ""

    @property
    def accepted(self) -> bool:
        return self.signed_in is not None

    def check(self, name: str, ok: bool, detail: str = "") -> "Observation":
        self.checks.append(Check(name, ok, detail))
        return self


_FAILING = {Level.MUST: Verdict.FAIL, Level.SHOULD: Verdict.WARN, Level.MAY: Verdict.INFO}


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
    if expected is Outcome.ACCEPT:
        if not obs.accepted:
            return bad, "SP did not sign the user in" + (f" ({obs.note})" if obs.note else "")
        if obs.intended is not None and obs.signed_in != obs.intended:
            return bad, f"SP signed in {obs.signed_in!r}, expected {obs.intended!r}"
        failed = [c for c in obs.checks if not c.ok]
        if failed:
            c = failed[0]
            return bad, f"{c.name}: {c.detail}" if c.detail else c.name
        return Verdict.PASS, f"signed in as {obs.signed_in!r}" + "".join(
            f"; {c.name}" for c in obs.checks
        )
    # expected REJECT
    note = f"; {obs.note}" if obs.note else ""
    if obs.accepted:
        if obs.intended is not None and obs.signed_in != obs.intended:
            return bad, (
                f"SP accepted the response and signed in {obs.signed_in!r} "
                f"(the response asserted {obs.intended!r}){note}"
            )
        return bad, f"SP accepted the response and signed in {obs.signed_in!r}{note}"
    failed = [c for c in obs.checks if not c.ok]
    if failed:
        c = failed[0]
        return bad, f"nobody signed in, but a check failed: {c.name} ({c.detail})" if c.detail \
            else f"nobody signed in, but a check failed: {c.name}"
    return Verdict.PASS, "SP refused: nobody signed in" + (f" ({obs.note})" if obs.note else "")
