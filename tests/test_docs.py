"""Generated docs stay current."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from harness.registry import all_scenarios
from harness.suite import listing_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_scenario_catalogue_is_current():
    current = (DOCS / "scenarios.md").read_text(encoding="utf-8")
    assert current == listing_markdown(all_scenarios()), \
        "docs/scenarios.md is stale: run `samlconf scenarios --markdown > docs/scenarios.md`"


ROOT = DOCS.parent
FENCE = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)


def toml_snippets() -> list[tuple[str, str]]:
    out = []
    for md in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = md.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text[: m.start()].count("\n") + 1
            out.append((f"{md.relative_to(ROOT)}:{line}", m.group(1)))
    return out


SNIPPETS = toml_snippets()


def test_docs_have_toml_snippets():
    assert len(SNIPPETS) >= 3, SNIPPETS


@pytest.mark.parametrize(("where", "text"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_every_toml_snippet_loads(where, text, tmp_path, monkeypatch):
    """Every TOML block in README.md and docs/*.md goes through the loader a user's file would:
    a users file (`[[users]]`), a profile (has `title`), else a target file. The user's side of it
    exists, as it would on their machine: the `${env:...}` variables it names are set and the files
    it names (metadata_file, ca_file) are there."""
    import re

    data = tomllib.loads(text)  # valid TOML first
    for name in re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", text):
        monkeypatch.setenv(name, "set-by-the-user")
    for name in (data.get("sp", {}).get("metadata_file"), data.get("ca_file")):
        if isinstance(name, str) and not name.startswith("/"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("<placeholder/>", encoding="utf-8")
    path = tmp_path / "snippet.toml"
    path.write_text(text, encoding="utf-8")
    if "users" in data:
        from mock_idp.users import load_users

        assert load_users(path), where
    elif "title" in data:
        from harness.profiles import load_profile

        assert load_profile(path).name, where
    else:
        from harness.target import load_target

        assert load_target(path).whoami.url, where


def test_every_capability_is_documented():
    from harness.target import CAPABILITIES

    text = (DOCS / "profiles.md").read_text(encoding="utf-8")
    missing = [c for c in CAPABILITIES if f"| `{c}` |" not in text]
    assert not missing, f"docs/profiles.md 'Capabilities' table lacks: {missing}"


def test_every_scenario_and_fault_module_has_its_place_in_the_docs():
    """docs/writing-scenarios.md 'Where things go' names every module of scenarios/ and
    mock_idp/faults/, so a newcomer finds the room for a change."""
    root = DOCS.parent
    text = (DOCS / "writing-scenarios.md").read_text(encoding="utf-8")
    table = text[text.index("## Where things go"):]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ")]
    scen = " ".join(r[2] for r in rows if len(r) > 3)
    faults = " ".join(r[3] for r in rows if len(r) > 3)
    missing = [f"scenarios/{p.name}" for p in sorted((root / "scenarios").glob("*.py"))
               if p.name != "__init__.py" and f"`{p.name}`" not in scen]
    missing += [f"mock_idp/faults/{p.name}" for p in sorted((root / "mock_idp" / "faults").glob("*.py"))
                if p.name != "__init__.py" and f"`{p.name}`" not in faults]
    assert not missing, f"docs/writing-scenarios.md 'Where things go' lacks: {missing}"
