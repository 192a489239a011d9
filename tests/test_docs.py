"""Generated docs stay current."""
from __future__ import annotations

from pathlib import Path

from harness.registry import all_scenarios
from harness.suite import listing_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_scenario_catalogue_is_current():
    current = (DOCS / "scenarios.md").read_text(encoding="utf-8")
    assert current == listing_markdown(all_scenarios()), \
        "docs/scenarios.md is stale: run `samlconf scenarios --markdown > docs/scenarios.md`"
