"""A Markdown summary of a run, short enough for a pull-request comment (`samlconf-summary.md`)."""
from __future__ import annotations

from collections import Counter
from typing import Any

from harness.events import RunFinished, ScenarioResult

from .atomic import write_atomic
from .collect import CollectingWriter
from .html import ATTENTION, ORDER

FILENAME = "samlconf-summary.md"
MAX_ROWS = 50  # a PR comment stays readable; the HTML report has the rest


def _cell(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def render(meta: dict[str, Any], results: list[ScenarioResult], interrupted: bool) -> str:
    counts = Counter(r.verdict for r in results)
    bad = sorted((r for r in results if r.verdict in ATTENTION), key=lambda r: (ORDER.get(r.verdict, 9), r.id))
    head = "passed" if not bad and not interrupted else f"{len(bad)} result(s) need attention"
    lines = [f"### samlconf: {_cell(meta.get('target', ''))} ({_cell(meta.get('profile', ''))}): {head}", ""]
    if interrupted:
        lines += ["**The run was interrupted: these results are partial.**", ""]
    lines.append(" · ".join(f"**{v}** {n}" for v, n in sorted(counts.items(), key=lambda kv: ORDER.get(kv[0], 9)))
                 or "no scenarios ran")
    mutants = meta.get("mutants") or []
    lines += ["", f"drivers: {', '.join(meta.get('drivers', []))} · samlconf {meta.get('samlconf_version', '')}"
              + (f" · mutants: {', '.join(mutants)}" if mutants else "")]
    if bad:
        lines += ["", "| verdict | scenario | driver | evidence |", "|---|---|---|---|"]
        for r in bad[:MAX_ROWS]:
            lines.append(f"| {r.verdict} | {r.id} {_cell(r.title, 80)} | {r.driver} | {_cell(r.reason)} |")
        if len(bad) > MAX_ROWS:
            lines.append(f"| … | {len(bad) - MAX_ROWS} more in the HTML report | | |")
    return "\n".join(lines) + "\n"


class MarkdownSummaryWriter(CollectingWriter):
    filename = FILENAME

    def finish(self, end: RunFinished) -> None:
        write_atomic(self.path, render(self.meta, self.results, end.interrupted))
