"""Every case of the covered catalogue categories has a scenario (same ID) or a not-applicable entry
with its reason; `docs/catalogue-ids.toml` is the vendored case list (`harness/catalogue.py`)."""
from __future__ import annotations

from harness.catalogue import CASE_ID, load, parse_markdown
from harness.registry import all_scenarios
from scenarios._not_applicable import NOT_APPLICABLE

# Categories whose every case must be a scenario or not applicable. Add yours when it is complete.
COVERED = ("XSW", "PDF", "CMT", "SIG", "KEY", "ALG", "ENC", "TIME", "XML",
           "AREQ", "META", "BND", "RLY", "SLO", "NID", "STA", "POS", "MAS", "ISS", "DST", "IRT", "RPL", "SES", "ATTR", "TEN")

# Cases of the covered categories still to be written: an explicit, shrinking to-do list (an entry
# that gains a scenario or a not-applicable reason must go).
PENDING: dict[str, str] = {
    # issue 11 (contracts): applicable, not written yet
}

CASES = {c.id: c for c in load()}
SCENARIO_IDS = {s.id for s in all_scenarios()}


def test_vendored_case_list_is_sane():
    assert len(CASES) >= 250 and all(CASE_ID.match(i) for i in CASES)
    assert {"XSW-01", "PDF-13", "CMT-06", "SIG-18", "META-05"} <= set(CASES)


def test_every_case_of_the_covered_categories_has_a_scenario_or_a_reason():
    wanted = sorted(i for i, c in CASES.items() if c.category in COVERED)
    missing = [i for i in wanted if i not in SCENARIO_IDS and i not in NOT_APPLICABLE and i not in PENDING]
    assert not missing, f"catalogue cases with neither a scenario nor a not-applicable reason: {missing}"
    stale = sorted(i for i in PENDING if i in SCENARIO_IDS or i in NOT_APPLICABLE)
    assert not stale, f"PENDING entries that are done (remove them): {stale}"


def test_not_applicable_entries_are_catalogue_cases_without_a_scenario():
    unknown = sorted(set(NOT_APPLICABLE) - set(CASES))
    assert not unknown, f"not-applicable entries that are not catalogue cases: {unknown}"
    both = sorted(set(NOT_APPLICABLE) & SCENARIO_IDS)
    assert not both, f"cases both implemented and declared not applicable: {both}"
    assert all(r.strip() for r in NOT_APPLICABLE.values()), "every not-applicable entry needs a reason"


def test_catalogue_markdown_parser():
    md = ("## 4. CMT\n\n| ID | Check | Mock IdP sends | Expect | Source |\n|---|---|---|---|---|\n"
          "| CMT-01 | Comment **truncation** | `a<!---->b` | ACCEPT only as `ab` | Duo |\n"
          "| CMT-02 | Pipe \\| escaped | x | REJECT | y |\n\n"
          "| CVE / paper | Product |\n|---|---|\n| CVE-2017-11427 | python-saml |\n")
    cases = parse_markdown(md)
    assert [(c.id, c.check, c.expect) for c in cases] == [
        ("CMT-01", "Comment truncation", "ACCEPT only as ab"), ("CMT-02", "Pipe | escaped", "REJECT")]
