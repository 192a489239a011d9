"""A browser context goes back to the pool only cleared: the next session starts signed out, with no
cookie, storage or plan of the one before (issue 12: reuse where the scenario allows)."""
from __future__ import annotations

import os
import shutil

import pytest

from harness.context import ScenarioContext
from harness.engine import Engine
from harness.registry import get
from harness.runtime import Runtime
from harness.suite import resolve_target

pytestmark = pytest.mark.browser


def test_a_reused_context_starts_clean(tmp_path) -> None:
    exe = os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")
    if not exe:
        pytest.skip("no Chromium: set SAMLCONF_CHROMIUM or install Debian's chromium")
    with Runtime(resolve_target(None, "redis_cloud"), seed=21) as rt:
        engine = Engine(rt, ["browser"], driver_options={"chromium": exe, "artifacts_dir": tmp_path})
        driver = engine.driver("browser")
        first = engine._session("browser", "one")
        ctx = ScenarioContext(rt, first, "browser")
        user = ctx.new_user()
        ctx.sp_login(user)
        assert ctx.whoami() == ctx.email_of(user)
        used = first.context
        first.close(keep_trace=False)
        assert driver._pool and driver._pool[-1].context is used  # back in the pool
        second = engine._session("browser", "two")
        assert second.context is used  # the same context, reused ...
        assert second.context.cookies() == []  # ... with nothing left of the first session
        assert ScenarioContext(rt, second, "browser").whoami() is None
        second.close(keep_trace=True)  # kept for its trace: closed, never reused
        assert all(s.context is not used for s in driver._pool)
        result = engine.run_one(get("FLOW-01"), "browser")  # and scenarios still pass on reused contexts
        assert result.verdict == "pass", result.reason
        engine.close()
