"""Front-end-neutral glue: pick scenarios, set up a run with report writers. Used by CLI and plugin."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .errors import ConfigError
from .events import Event
from .registry import ScenarioSpec, all_scenarios
from .target import Target, bundled_target, load_target


def resolve_target(path: str | Path | None, profile: str | None = None) -> Target:
    """The target file given, else the bundled reference SP under `profile` (default redis_cloud)."""
    if path is None:
        p = bundled_target(profile or "redis_cloud")
        if not p.exists():
            raise ConfigError(f"--profile {profile!r}: no bundled reference target for it")
        return load_target(p)
    target = load_target(path)
    if profile:
        target = target.model_copy(update={"profile": profile})
    return target


def select(ids: Sequence[str] | None = None, categories: Sequence[str] | None = None) -> list[ScenarioSpec]:
    specs = all_scenarios()
    if ids:
        known = {s.id for s in specs}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ConfigError(f"--scenario {unknown[0]}: unknown scenario id (`samlconf scenarios` lists them)")
        specs = [s for s in specs if s.id in ids]
    if categories:
        specs = [s for s in specs if s.category in categories]
    return specs


def report_writers(report_dir: Path | None) -> list[Callable[[Event], None]]:
    if report_dir is None:
        return []
    from reports.json_report import JsonReportWriter
    from reports.junit import JUnitWriter

    writers: list[Callable[[Event], None]] = [JsonReportWriter(report_dir), JUnitWriter(report_dir)]
    try:
        from reports.html import HtmlReportWriter
    except ImportError:
        pass
    else:
        writers.append(HtmlReportWriter(report_dir))
    return writers


def drivers_from_option(value: str) -> list[str]:
    if value == "both":
        return ["http", "browser"]
    if value not in ("http", "browser"):
        raise ConfigError(f"--driver {value!r}: choose http, browser or both")
    return [value]


def scenario_listing(specs: Iterable[ScenarioSpec]) -> list[dict[str, Any]]:
    from .profiles import bundled_profiles

    out = []
    for s in specs:
        out.append({
            "id": s.id, "title": s.title, "category": s.category, "level": s.level.value,
            "needs": list(s.needs), "refs": list(s.refs),
            "expected": {p: s.expected(p).value for p in bundled_profiles()},
        })
    return out


def listing_text(specs: Iterable[ScenarioSpec]) -> str:
    rows = scenario_listing(specs)
    lines = []
    for r in rows:
        exp = " ".join(f"{p}={v}" for p, v in r["expected"].items())
        lines.append(f"{r['id']:<10} {r['category']:<8} {r['title']}")
        lines.append(f"{'':<10} needs: {', '.join(r['needs']) or '-'}; expected: {exp}")
        if r["refs"]:
            lines.append(f"{'':<10} refs: {'; '.join(r['refs'])}")
    return "\n".join(lines)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
