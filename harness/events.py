"""Events the engine emits; report writers and front-ends subscribe to them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Hop:
    """One HTTP exchange (or browser navigation) with what SAML it carried, decoded."""

    method: str
    url: str
    status: int | None
    saml: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    screenshot: str | None = None
    ms: float | None = None  # how long the server took to answer (http driver)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method, "url": self.url, "status": self.status}
        if self.ms is not None:
            d["ms"] = self.ms
        if self.saml:
            d["saml"] = self.saml
        if self.note:
            d["note"] = self.note
        if self.screenshot:
            d["screenshot"] = self.screenshot
        return d


@dataclass
class ScenarioResult:
    id: str
    title: str
    category: str
    verdict: str
    reason: str
    duration: float
    driver: str
    profile: str
    expected: str
    level: str
    refs: tuple[str, ...] = ()
    hops: list[Hop] = field(default_factory=list)
    control: str | None = None
    fix_hint: str = ""
    artifacts: list[str] = field(default_factory=list)
    # what the IdP sent: per Response, the faults, NameID, attributes, pretty XML and diff vs baseline
    sent: list[dict[str, Any]] = field(default_factory=list)
    # robustness findings of their own next to the verdict (e.g. "the SP answered 500 to bad input")
    findings: list[str] = field(default_factory=list)
    # where `expected` came from: "profile NAME", or the SP's declared policy (metadata / [sp.policy])
    expected_from: str = ""

    @property
    def key(self) -> str:
        return f"{self.id}[{self.driver}]"


@dataclass
class RunStarted:
    target: str
    profile: str
    drivers: list[str]
    scenario_ids: list[str]
    started_at: str
    mutants: list[str] = field(default_factory=list)  # reference-SP defects switched on
    version: str = ""  # samlconf's version
    sp_metadata_sha256: str = ""  # digest of the SP metadata the run was made against

    def meta(self) -> dict[str, Any]:
        """What every report states about the run (JSON top level, HTML header, JUnit properties)."""
        return {"target": self.target, "profile": self.profile, "drivers": list(self.drivers),
                "mutants": list(self.mutants), "samlconf_version": self.version,
                "sp_metadata_sha256": self.sp_metadata_sha256, "started_at": self.started_at}


@dataclass
class ScenarioStarted:
    id: str
    driver: str


@dataclass
class HopEvent:
    id: str
    driver: str
    hop: Hop


@dataclass
class ScenarioFinished:
    result: ScenarioResult


@dataclass
class RunFinished:
    results: list[ScenarioResult]
    interrupted: bool = False
    finished_at: str = ""


Event = RunStarted | ScenarioStarted | HopEvent | ScenarioFinished | RunFinished


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...
