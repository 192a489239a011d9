"""Single-file HTML conformance report for people: summary by category, each finding with evidence."""
from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from pathlib import Path

from harness.events import Event, RunFinished, RunStarted, ScenarioFinished, ScenarioResult

from .atomic import write_atomic

FILENAME = "samlconf-report.html"
COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "warn": "#9a6700", "info": "#0969da",
           "not-tested": "#6e7781", "inconclusive": "#8250df", "error": "#a40e26"}
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1f2328;max-width:70rem}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:1rem 0}
td,th{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
.v{font-weight:600;color:#fff;border-radius:.3rem;padding:0 .4rem;white-space:nowrap}
details{margin:.2rem 0}code,pre{font:12px ui-monospace,monospace;background:#f6f8fa}
pre{padding:.5rem;overflow:auto}
"""


def badge(verdict: str) -> str:
    return f'<span class="v" style="background:{COLOURS.get(verdict, "#555")}">{html.escape(verdict)}</span>'


def render(meta: dict, results: list[ScenarioResult], interrupted: bool) -> str:
    e = html.escape
    counts = Counter(r.verdict for r in results)
    by_cat: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_cat[r.category][r.verdict] += 1
    verdicts = [v for v in COLOURS if any(v in c for c in by_cat.values())]
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>samlconf report: {e(meta.get('target', ''))}</title>",
           f"<style>{CSS}</style>",
           f"<h1>samlconf conformance report</h1><p>Target <b>{e(meta.get('target', ''))}</b>, profile "
           f"<b>{e(meta.get('profile', ''))}</b>, drivers {e(', '.join(meta.get('drivers', [])))}, "
           f"started {e(meta.get('started_at', ''))}.</p>"]
    if interrupted:
        out.append("<p><b>The run was interrupted: this report is partial.</b></p>")
    out.append("<p>" + " ".join(f"{badge(v)} {n}" for v, n in counts.most_common()) + "</p>")
    out.append("<h2>By category</h2><table><tr><th>category</th>" + "".join(f"<th>{badge(v)}</th>" for v in verdicts) + "</tr>")
    for cat in sorted(by_cat):
        out.append(f"<tr><td>{e(cat)}</td>" + "".join(f"<td>{by_cat[cat].get(v, '')}</td>" for v in verdicts) + "</tr>")
    out.append("</table><h2>Scenarios</h2><table><tr><th>ID</th><th>driver</th><th>verdict</th><th>scenario and evidence</th></tr>")
    order = {v: i for i, v in enumerate(["fail", "error", "inconclusive", "warn", "info", "not-tested", "pass"])}
    for r in sorted(results, key=lambda r: (order.get(r.verdict, 9), r.id)):
        hops = "\n".join(f"{h.method} {h.url} -> {h.status}" + (f"  {json.dumps(h.saml)}" if h.saml else "")
                         for h in r.hops)
        detail = [f"<b>{e(r.title)}</b><br>{e(r.reason)}",
                  f"<br><small>expected {e(r.expected)} ({e(r.level)}); refs: {e('; '.join(r.refs))}</small>"]
        if r.control:
            detail.append(f"<br><small>positive control: {e(r.control)}</small>")
        if r.verdict in ("fail", "warn", "info") and r.fix_hint:
            detail.append(f"<br><i>Fix: {e(r.fix_hint)}</i>")
        if hops:
            detail.append(f"<details><summary>SAML trace ({len(r.hops)} hops)</summary><pre>{e(hops)}</pre></details>")
        if r.artifacts:
            detail.append("<details><summary>artifacts</summary>" + "<br>".join(
                f'<a href="{e(Path(a).as_posix())}">{e(Path(a).name)}</a>' for a in r.artifacts) + "</details>")
        out.append(f"<tr><td>{e(r.id)}</td><td>{e(r.driver)}</td><td>{badge(r.verdict)}</td><td>{''.join(detail)}</td></tr>")
    out.append("</table></html>")
    return "\n".join(out)


class HtmlReportWriter:
    def __init__(self, report_dir: Path) -> None:
        self.path = Path(report_dir) / FILENAME
        self.meta: dict = {}
        self.results: list[ScenarioResult] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.meta = {"target": event.target, "profile": event.profile, "drivers": event.drivers,
                         "started_at": event.started_at}
        elif isinstance(event, ScenarioFinished):
            self.results.append(event.result)
        elif isinstance(event, RunFinished):
            write_atomic(self.path, render(self.meta, self.results, event.interrupted))
