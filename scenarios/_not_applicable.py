"""Catalogue cases (`../shared/catalogue.md`) that no scenario implements because they cannot apply
to a Service Provider under test, each with the reason. `docs/scenarios.md` lists them (generated),
and `tests/test_catalogue_coverage.py` checks that every case of the covered categories has either a
scenario or an entry here, never both.

An entry is for a case that *cannot* apply to an SP (it tests an IdP, a static file the harness
never sees, ...), not for one that is merely hard to build: those stay pending in the test until
they have a scenario.
"""
from __future__ import annotations

NOT_APPLICABLE: dict[str, str] = {
}
