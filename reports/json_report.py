"""JSON results file (stable, versioned schema) fed by the engine's events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.events import RunFinished, ScenarioResult

from .atomic import write_atomic
from .collect import CollectingWriter

SCHEMA_VERSION = 2  # 2: run metadata (mutants, version, SP metadata digest), "sent", relative artifacts
FILENAME = "samlconf-results.json"


def relative(path: str, base: Path | None) -> str:
    """An artifact path relative to the report's folder (links survive CI moving the folder)."""
    import os

    if base is None or not path:
        return path
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path


def result_dict(r: ScenarioResult, base: Path | None = None) -> dict[str, Any]:
    hops = []
    for h in r.hops:
        d = h.to_dict()
        if d.get("screenshot"):
            d["screenshot"] = relative(d["screenshot"], base)
        hops.append(d)
    return {
        "id": r.id,
        "title": r.title,
        "category": r.category,
        "driver": r.driver,
        "verdict": r.verdict,
        "expected": r.expected,
        "expected_from": r.expected_from or f"profile {r.profile}",
        "level": r.level,
        "duration": r.duration,
        "evidence": r.reason,
        "control": r.control,
        "refs": list(r.refs),
        "fix_hint": r.fix_hint,
        "hops": hops,
        "artifacts": [relative(a, base) for a in r.artifacts],
        "sent": list(getattr(r, "sent", [])),
        "findings": list(r.findings),
    }


def summary(results: list[ScenarioResult]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out[r.verdict] = out.get(r.verdict, 0) + 1
    return out


class JsonReportWriter(CollectingWriter):
    """Writes the file at the end of the run (also after Ctrl-C: `interrupted`)."""

    filename = FILENAME

    def finish(self, end: RunFinished) -> None:
        doc = {
            "schema_version": SCHEMA_VERSION,
            "tool": "samlconf",
            **self.meta,
            "finished_at": end.finished_at,
            "interrupted": end.interrupted,
            "summary": summary(self.results),
            "scenarios": [result_dict(r, self.path.parent) for r in self.results],
        }
        write_atomic(self.path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
