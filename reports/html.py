"""Single-file HTML conformance report for people (a jinja2 template): what needs attention first,
then every scenario with what the IdP sent (faults, NameID, attributes, the Response and its diff
against the valid baseline), every hop, screenshots and traces; filters and a search box."""
from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from harness.events import RunFinished, ScenarioResult

from .atomic import write_atomic
from .collect import CollectingWriter
from .json_report import result_dict

FILENAME = "samlconf-report.html"
COLOURS = {"fail": "#cf222e", "error": "#a40e26", "inconclusive": "#8250df", "warn": "#9a6700",
           "info": "#0969da", "not-tested": "#6e7781", "pass": "#1a7f37"}
ORDER = {v: i for i, v in enumerate(COLOURS)}  # worst first
ATTENTION = ("fail", "error", "inconclusive", "warn")

_ENV = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)


def _finding_text(f: Any) -> str:
    if isinstance(f, str):
        return f
    if dataclasses.is_dataclass(f):
        f = dataclasses.asdict(f)
    if isinstance(f, dict):
        return str(f.get("text") or f.get("message") or f.get("title") or f)
    return str(f)


def view(r: ScenarioResult, base: Path | None) -> dict[str, Any]:
    d = result_dict(r, base)
    d["reason"] = r.reason
    d["profile"] = r.profile
    d["anchor"] = f"s-{r.id}-{r.driver}"
    d["findings"] = [_finding_text(f) for f in getattr(r, "findings", []) or []]
    return d


def render(meta: dict[str, Any], results: list[ScenarioResult], interrupted: bool, *,
           base: Path | None = None, finished_at: str = "") -> str:
    counts = Counter(r.verdict for r in results)
    by_cat: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_cat[r.category][r.verdict] += 1
    ordered = sorted(results, key=lambda r: (ORDER.get(r.verdict, 9), r.id, r.driver))
    views = [view(r, base) for r in ordered]
    meta = {"target": "", "profile": "", "drivers": [], "mutants": [], "samlconf_version": "",
            "sp_metadata_sha256": "", "started_at": "", **meta}
    return _ENV.get_template("report.html.j2").render(
        meta=meta, interrupted=interrupted, finished_at=finished_at, colours=COLOURS,
        counts=sorted(counts.items(), key=lambda kv: ORDER.get(kv[0], 9)),
        cat_verdicts=[v for v in COLOURS if any(v in c for c in by_cat.values())],
        by_category=sorted(by_cat.items()), levels=sorted({r.level for r in results}),
        results=views, attention=[v for v in views if v["verdict"] in ATTENTION],
        open_verdicts=ATTENTION,
    )


class HtmlReportWriter(CollectingWriter):
    filename = FILENAME

    def finish(self, end: RunFinished) -> None:
        write_atomic(self.path, render(self.meta, self.results, end.interrupted,
                                       base=self.path.parent, finished_at=end.finished_at))
