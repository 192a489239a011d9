"""A plain-text summary table for the terminal."""
from __future__ import annotations

from harness.events import ScenarioResult


def table(results: list[ScenarioResult]) -> str:
    if not results:
        return "no scenarios ran"
    w_id = max([2] + [len(r.id) for r in results])
    w_v = max([len("VERDICT")] + [len(r.verdict) for r in results])
    lines = [f"{'ID':<{w_id}}  {'DRIVER':<7}  {'VERDICT':<{w_v}}  EVIDENCE"]
    for r in results:
        reason = r.reason if len(r.reason) <= 100 else r.reason[:99] + "…"
        lines.append(f"{r.id:<{w_id}}  {r.driver:<7}  {r.verdict:<{w_v}}  {reason}")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return "\n".join(lines)
