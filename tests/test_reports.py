"""Reports a QA lead can act on (issue 13): what was sent, run metadata everywhere, relative links,
filters and counts that match the JSON, a Markdown summary, a JSON Schema, coverage loss in
`report diff`, one index page for both profiles, and the HTML report rendered in Chromium."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "docs" / "results.schema.json"
FAILING = "AUD-01"  # fails under the ignores_audience mutant
IDS = ["FLOW-01", FAILING, "XSW-03"]


def chromium() -> str | None:
    return os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One real run against a mutant of the reference SP: one failure, passes, a wrapped message."""
    d = tmp_path_factory.mktemp("report")
    argv = ["run", "--profile", "redis_cloud", "--report-dir", str(d), "--mutant", "ignores_audience", "--seed", "5"]
    for i in IDS:
        argv += ["--scenario", i]
    assert main(argv) == 1  # a scenario failed
    return d


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "samlconf-results.json").read_text())


def test_results_match_the_published_json_schema(run_dir) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = results(run_dir)
    jsonschema.validate(doc, schema)
    broken = dict(doc, scenarios=[dict(doc["scenarios"][0], verdict="passed")])
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.validate(broken, schema)


def test_every_report_names_target_profile_driver_version_mutants_and_metadata_digest(run_dir) -> None:
    doc = results(run_dir)
    assert doc["mutants"] == ["ignores_audience"] and doc["profile"] == "redis_cloud"
    assert re.fullmatch(r"[0-9a-f]{64}", doc["sp_metadata_sha256"]) and doc["samlconf_version"]
    page = (run_dir / "samlconf-report.html").read_text()
    for value in ("ignores_audience", doc["sp_metadata_sha256"], doc["samlconf_version"], doc["target"]):
        assert value in page
    props = {p.get("name"): p.get("value")
             for p in ET.parse(run_dir / "samlconf-junit.xml").getroot().iter("property")}
    assert props["samlconf.mutants"] == "ignores_audience"
    assert props["samlconf.sp_metadata_sha256"] == doc["sp_metadata_sha256"]
    assert props["samlconf.drivers"] == "http" and props["samlconf.profile"] == "redis_cloud"


def test_the_report_shows_what_was_sent(run_dir) -> None:
    doc = results(run_dir)
    by_id = {s["id"]: s for s in doc["scenarios"]}
    failed = by_id[FAILING]
    assert failed["verdict"] == "fail"
    sent = failed["sent"]
    assert sent and sent[0]["faults"] and sent[0]["faults"][0]["id"].startswith("audience")
    assert sent[0]["name_id"] and sent[0]["attributes"]
    assert "<saml:Audience>" in sent[0]["xml"]
    # the diff shows the faulted Audience against the valid baseline, and little else
    changed = [line for line in sent[0]["diff"].splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert any("Audience" in line for line in changed)
    assert all(by_id["XSW-03"]["sent"][i]["faults"][0]["id"] == "xsw-03" for i in range(2))  # both variants
    page = (run_dir / "samlconf-report.html").read_text()
    fault_label = sent[0]["faults"][0]["label"]
    assert fault_label in page and '<span class="del">' in page and '<span class="add">' in page
    assert sent[0]["name_id"] in page


def test_counts_and_filters_match_the_json(run_dir) -> None:
    doc = results(run_dir)
    page = (run_dir / "samlconf-report.html").read_text()
    shown = dict(re.findall(r'data-count="([a-z-]+)">(\d+)<', page))
    assert {k: int(v) for k, v in shown.items()} == doc["summary"]
    assert page.count('class="scenario"') == len(doc["scenarios"])
    for f in ("f-verdict", "f-category", "f-level", "f-search"):
        assert f'id="{f}"' in page


def test_markdown_summary_for_a_pull_request(run_dir) -> None:
    md = (run_dir / "samlconf-summary.md").read_text()
    assert md.startswith("### samlconf:") and "1 result(s) need attention" in md
    assert f"| fail | {FAILING}" in md and "ignores_audience" in md


def test_report_diff_exits_1_on_coverage_loss_and_warns_on_other_profiles(run_dir, tmp_path, capsys) -> None:
    doc = results(run_dir)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    lost = json.loads(json.dumps(doc))
    for s in lost["scenarios"]:
        if s["verdict"] == "pass":
            s["verdict"] = "not-tested"
    new = tmp_path / "new.json"
    new.write_text(json.dumps(lost))
    assert main(["report", "diff", str(old), str(new)]) == 1
    out, err = capsys.readouterr()
    assert "coverage loss:" in out and "--allow-coverage-loss" in err
    assert main(["report", "diff", str(old), str(new), "--allow-coverage-loss"]) == 0
    capsys.readouterr()
    other = json.loads(json.dumps(doc))
    other["profile"] = "redflag"
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["report", "diff", str(old), str(tmp_path / "other.json")]) == 0
    assert "different profiles" in capsys.readouterr().err


def test_one_index_page_for_both_profiles(tmp_path, capsys) -> None:
    assert main(["run", "--report-dir", str(tmp_path), "--scenario", "FLOW-01", "--seed", "3"]) == 0
    page = (tmp_path / "index.html").read_text()
    for profile in ("redis_cloud", "redflag"):
        doc = json.loads((tmp_path / profile / "samlconf-results.json").read_text())
        cell = re.search(rf'data-profile="{profile}" data-verdict="pass">(\d*)<', page)
        assert cell and int(cell.group(1)) == doc["summary"]["pass"]
        assert f'href="{profile}/samlconf-report.html"' in page


@pytest.mark.browser
def test_html_report_renders_in_chromium_with_the_failure_on_top(tmp_path) -> None:
    """A browser run (screenshots and a trace for the failure), its report opened in Chromium: the
    failure is in the first screen, nothing widens the page, artifact links are relative and resolve."""
    exe = chromium()
    if not exe:
        pytest.skip("no Chromium: set SAMLCONF_CHROMIUM or install Debian's chromium")
    report = tmp_path / "moved-later"
    assert main(["run", "--profile", "redis_cloud", "--report-dir", str(report), "--driver", "browser",
                 "--chromium", exe, "--mutant", "ignores_audience", "--scenario", FAILING, "--scenario", "FLOW-01",
                 "--seed", "9"]) == 1
    moved = tmp_path / "ci-artifacts" / "report"  # CI moves the folder: links must still resolve
    moved.parent.mkdir()
    report.rename(moved)
    doc = results(moved)
    arts = [a for s in doc["scenarios"] for a in s["artifacts"]]
    assert arts and all(not a.startswith("/") and (moved / a).exists() for a in arts)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto((moved / "samlconf-report.html").as_uri())
            box = page.locator("#attention").bounding_box()
            assert box is not None and box["y"] < 800, box
            assert FAILING in page.locator("#attention").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            page.select_option("#f-verdict", "fail")
            assert page.locator("#scenarios > details:not(.hidden)").count() == doc["summary"]["fail"]
            page.select_option("#f-verdict", "")
            page.fill("#f-search", "flow-01")
            assert page.locator("#scenarios > details:not(.hidden)").count() == 1
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
