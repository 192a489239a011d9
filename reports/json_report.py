"""JSON results file (stable, versioned schema) fed by the engine's events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.events import Event, RunFinished, RunStarted, ScenarioFinished, ScenarioResult

from .atomic import write_atomic

SCHEMA_VERSION = 1
FILENAME = "samlconf-results.json"


def result_dict(r: ScenarioResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "category": r.category,
        "driver": r.driver,
        "verdict": r.verdict,
        "expected": r.expected,
        "level": r.level,
        "duration": r.duration,
        "evidence": r.reason,
        "control": r.control,
        "refs": list(r.refs),
        "fix_hint": r.fix_hint,
        "hops": [h.to_dict() for h in r.hops],
        "artifacts": list(r.artifacts),
    }


def summary(results: list[ScenarioResult]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out[r.verdict] = out.get(r.verdict, 0) + 1
    return out


class JsonReportWriter:
    """Collects events; writes the file at the end of the run (also after Ctrl-C: `interrupted`)."""

    def __init__(self, report_dir: Path) -> None:
        self.path = Path(report_dir) / FILENAME
        self.meta: dict[str, Any] = {}
        self.results: list[ScenarioResult] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.meta = {"target": event.target, "profile": event.profile, "drivers": event.drivers,
                         "started_at": event.started_at}
        elif isinstance(event, ScenarioFinished):
            self.results.append(event.result)
        elif isinstance(event, RunFinished):
            self.write(event)

    def write(self, end: RunFinished) -> None:
        doc = {
            "schema_version": SCHEMA_VERSION,
            "tool": "samlconf",
            **self.meta,
            "finished_at": end.finished_at,
            "interrupted": end.interrupted,
            "summary": summary(self.results),
            "scenarios": [result_dict(r) for r in self.results],
        }
        write_atomic(self.path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
