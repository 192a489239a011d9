"""`samlconf report diff OLD NEW` on real results files: a mutant's run against the correct SP's."""
from __future__ import annotations

import json

from harness.cli import main


def test_diff_shows_the_mutants_regression(tmp_path, capsys):
    for name, extra in (("old", []), ("new", ["--mutant", "accepts_unsigned"])):
        assert main(["run", "--profile", "redis_cloud", "--scenario", "SIG-01", "--scenario", "FLOW-01",
                     "--report-dir", str(tmp_path / name), *extra]) in (0, 1)
    capsys.readouterr()
    rc = main(["report", "diff", str(tmp_path / "old" / "samlconf-results.json"),
               str(tmp_path / "new" / "samlconf-results.json"), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert [r["key"] for r in d["regressions"]] == ["SIG-01[http]"]
    assert d["fixes"] == [] and d["added"] == [] and d["removed"] == []
    rc = main(["report", "diff", str(tmp_path / "new" / "samlconf-results.json"),
               str(tmp_path / "old" / "samlconf-results.json")])
    assert rc == 0 and "fix: SIG-01[http] fail -> pass" in capsys.readouterr().out


def test_diff_of_a_non_results_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert main(["report", "diff", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a samlconf JSON results file" in err and len(err.strip().splitlines()) == 1
