"""The interop lab's own logic (lab/run.py): manifests, the expected matrix, comparing, the report.
Cheap: no target is installed or started here (`./dev lab` does that)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lab import run as lab


def _manifest(tmp_path: Path, body: str, target: str = "[idp]\nport = 9651\n") -> Path:
    d = tmp_path / "t"
    d.mkdir(exist_ok=True)
    (d / "target.toml").write_text(target, encoding="utf-8")
    p = d / "lab.toml"
    p.write_text(body, encoding="utf-8")
    return p


BASE = """name = "demo"
product = "Demo SP"
version = "1.0"
language = "Python"
start = "exec sleep 1"
ready_url = "http://127.0.0.1:9650/"
port = 9650
idp_port = 9651
"""


def test_every_manifest_and_the_expected_matrix_load():
    manifests = lab.discover()
    assert manifests, "lab/ has no target"
    expected = lab.load_expected()
    names = {m.name for m in manifests}
    assert set(expected) <= names, f"expected.toml rows for unknown targets: {set(expected) - names}"


def test_manifest_errors_are_one_line_naming_the_field(tmp_path):
    m = lab.load_manifest(_manifest(tmp_path, BASE))
    assert m.name == "demo" and m.dir == tmp_path / "t"
    with pytest.raises(lab.LabError, match="field 'port'.*9600-9699"):
        lab.load_manifest(_manifest(tmp_path, BASE.replace("port = 9650", "port = 8080")))
    with pytest.raises(lab.LabError, match="field 'colour'"):
        lab.load_manifest(_manifest(tmp_path, BASE + 'colour = "red"\n'))
    with pytest.raises(lab.LabError, match=r"\[idp\] port is 8800"):
        lab.load_manifest(_manifest(tmp_path, BASE, target="[idp]\nport = 8800\n"))


def _run(results: list[tuple[str, str]], status: str = "ok") -> lab.TargetRun:
    m = lab.Manifest(name="demo", product="p", version="1", language="l", start="x", ready_url="u",
                     port=9650, idp_port=9651)
    return lab.TargetRun(m, status=status, results=[{"id": i, "verdict": v, "evidence": "ev"} for i, v in results])


def test_compare_names_scenario_target_seen_and_expected():
    exp = {"A-1": lab.Expectation("pass", "refused"), "A-2": lab.Expectation("fail", "no check"),
           "A-3": lab.Expectation("pass", "gone"), "A-4": lab.Expectation("pass", "UNREVIEWED: x")}
    devs = lab.compare(_run([("A-1", "pass"), ("A-2", "pass"), ("A-4", "pass"), ("A-5", "warn")]), exp)
    lines = sorted(d.line() for d in devs)
    assert lines == [
        "A-2 on demo: seen pass, expected fail (ev)",
        "A-3 on demo: seen not run, expected pass (scenario missing from the run)",
        "A-4 on demo: seen pass, expected pass (its expected.toml row is not reviewed yet)",
        "A-5 on demo: seen warn, expected no row in lab/expected.toml (ev)",
    ]
    assert lab.compare(_run([("A-1", "pass")]), {"A-1": exp["A-1"]}) == []
    broken = lab.compare(_run([], status="start-failed"), exp)
    assert len(broken) == 1 and broken[0].seen == "start-failed"


def test_update_keeps_reviewed_reasons_and_marks_changes(tmp_path):
    old = {"demo": {"A-1": lab.Expectation("pass", "refused"), "A-2": lab.Expectation("fail", "no check")},
           "other": {"B-1": lab.Expectation("pass", "kept")}}
    new = lab.updated_expected([_run([("A-1", "pass"), ("A-2", "pass"), ("A-3", "info")])], old)
    assert new["demo"]["A-1"].why == "refused"
    assert new["demo"]["A-2"].why.startswith("UNREVIEWED (was fail)")
    assert new["demo"]["A-3"].why.startswith("UNREVIEWED")
    assert new["other"]["B-1"].why == "kept"
    path = tmp_path / "expected.toml"
    lab.write_expected(path, new, lab.EXPECTED_HEADER)
    again = lab.load_expected(path)
    assert {t: {k: (e.verdict, e.why) for k, e in r.items()} for t, r in again.items()} == \
        {t: {k: (e.verdict, e.why) for k, e in r.items()} for t, r in new.items()}


def test_expected_rows_are_validated(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('[demo]\n"A-1" = { verdict = "passed", why = "x" }\n', encoding="utf-8")
    with pytest.raises(lab.LabError, match="unknown verdict 'passed'"):
        lab.load_expected(p)
    p.write_text('[demo]\n"A-1" = { verdict = "pass" }\n', encoding="utf-8")
    with pytest.raises(lab.LabError, match=r"\[demo\] A-1"):
        lab.load_expected(p)


def test_matrix_report_has_targets_as_columns_and_marks_deviations(tmp_path):
    run = _run([("A-1", "pass"), ("A-2", "fail")])
    exp = {"demo": {"A-1": lab.Expectation("pass", "refused"), "A-2": lab.Expectation("pass", "checked")}}
    devs = lab.compare(run, exp["demo"])
    m = lab.matrix([run], exp, devs)
    assert m["targets"][0]["product"] == "p" and m["targets"][0]["version"] == "1"
    assert m["scenarios"][1]["cells"]["demo"] == {"verdict": "fail", "expected": "pass", "why": "checked",
                                                  "evidence": "ev", "deviation": True}
    lab.write_matrix(tmp_path, m)
    page = (tmp_path / "lab-matrix.html").read_text(encoding="utf-8")
    assert "(expected pass)" in page and "A-2 on demo: seen fail, expected pass" in page


def test_every_truth_an_expected_row_cites_was_measured():
    """`truth <target>.<fact>` in a why names a fact in lab/truth.toml; `...: holds` claims it held."""
    import re
    import tomllib

    truth = tomllib.loads((lab.LAB_DIR / "truth.toml").read_text(encoding="utf-8"))
    cited = 0
    for target, rows in lab.load_expected().items():
        for sid, e in rows.items():
            for t, fact, claim in re.findall(r"truth ([a-z0-9._-]+?)\.([a-z0-9-]+)(?![a-z0-9.-])(: holds)?", e.why):
                cited += 1
                facts = truth.get(t, {}).get("facts", {})
                assert fact in facts, f"expected.toml [{target}] {sid}: cites truth {t}.{fact}, not in lab/truth.toml"
                if claim:
                    assert facts[fact]["holds"], f"expected.toml [{target}] {sid}: says {t}.{fact} holds; it did not"
    assert cited or not lab.load_expected()
