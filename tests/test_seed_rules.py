"""Every rule of the two seed contracts has a scenario that quotes the seed's own sentence.

The rule list lives in docs/profiles.md ("Seed rules and their scenarios"): rule id, profile, the
seed sentence and one scenario ID. This test checks that each listed scenario is registered, that
it quotes the sentence in its refs (as `seed <profile>: '...'`), that it can run under the rule's
profile (its needs are met by the bundled reference target), and, when the seed files are at hand
(`../shared/seeds/` or $SAMLCONF_SEEDS), that the sentence is the seed's own words.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harness.profiles import load_profile
from harness.registry import all_scenarios
from harness.suite import resolve_target

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "profiles.md"
SEED_FILES = {"redis_cloud": "000_4a63e60a69ce5ace.txt", "redflag": "002_e57982fb182ae912.txt"}
ROW = re.compile(r'^\| (?P<rule>R[CF]-[A-Z0-9-]+) \| (?P<profile>[a-z_]+) \| "(?P<quote>[^"]+)" \| '
                 r'(?P<scenario>[A-Z]+-[A-Z0-9-]+) \|$')


def normalize(text: str) -> str:
    """The seed's words without Markdown: links, relrefs, bold, backticks; whitespace collapsed."""
    text = text.replace("\u00a0", " ")
    text = re.sub(r"\{\{<[^>]*>\}\}|\{\{\}\}", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "").replace("`", "")
    return " ".join(text.split())


def rules() -> list[dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Seed rules and their scenarios", 1)[1].split("\n## ", 1)[0]
    return [m.groupdict() for line in section.splitlines() if (m := ROW.match(line))]


RULES = rules()
SPECS = {s.id: s for s in all_scenarios()}


def seed_dir() -> Path | None:
    for cand in (os.environ.get("SAMLCONF_SEEDS"), ROOT.parent / "shared" / "seeds",
                 Path("/work/shared/seeds")):
        if cand and Path(cand, SEED_FILES["redflag"]).exists():
            return Path(cand)
    return None


def test_the_rule_list_is_there():
    assert len(RULES) >= 38
    ids = [r["rule"] for r in RULES]
    assert len(ids) == len(set(ids)), "a rule is listed twice"
    assert {r["profile"] for r in RULES} == set(SEED_FILES)


@pytest.mark.parametrize("rule", RULES, ids=[r["rule"] for r in RULES])
def test_every_rule_has_a_scenario_quoting_the_seed(rule):
    spec = SPECS.get(rule["scenario"])
    assert spec is not None, f"{rule['rule']}: scenario {rule['scenario']} is not registered"
    quote = normalize(rule["quote"])
    prefix = f"seed {rule['profile']}:"
    quoted = [normalize(r) for r in spec.refs if r.startswith(prefix)]
    assert any(quote in q for q in quoted), \
        f"{rule['rule']}: {spec.id}'s refs do not quote {prefix} '{quote}' (refs: {spec.refs})"


@pytest.mark.parametrize("rule", RULES, ids=[r["rule"] for r in RULES])
def test_the_scenario_runs_under_the_rules_profile(rule):
    spec = SPECS[rule["scenario"]]
    profile = load_profile(rule["profile"])
    have = resolve_target(None, rule["profile"]).capabilities(profile)
    missing = {n: have.get(n) for n in spec.needs if have.get(n) is not None}
    assert not missing, f"{rule['rule']}: {spec.id} would be not tested under {rule['profile']}: {missing}"


@pytest.mark.skipif(seed_dir() is None, reason="the seed files (../shared/seeds/) are not here")
@pytest.mark.parametrize("rule", RULES, ids=[r["rule"] for r in RULES])
def test_the_quote_is_the_seeds_own_words(rule):
    seed = normalize((seed_dir() / SEED_FILES[rule["profile"]]).read_text(encoding="utf-8"))
    assert normalize(rule["quote"]) in seed, f"{rule['rule']}: not in the seed: {rule['quote']!r}"
