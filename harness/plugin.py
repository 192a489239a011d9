"""pytest plugin for samlconf (registered once, through the `pytest11` entry point).

- Collects the scenario suite: `pytest --pyargs scenarios` makes one item per scenario and driver,
  each running through the same engine as `samlconf run` (so the same reports are written).
- Without `--samlconf-target`, starts the bundled reference SP on a free loopback port and targets it.
- Fixtures for your own scenarios: `samlconf_runtime`, `samlconf_idp`, `samlconf_target`,
  `samlconf_driver` (a fresh driver session), `saml_user` (a user factory), `samlconf_ctx`.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterator

import pytest

_ENGINE = pytest.StashKey[Any]()
_RUNTIME = pytest.StashKey[Any]()
BAD = {"fail", "error", "inconclusive"}


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("samlconf", "SAML SP conformance (samlconf)")
    g.addoption("--samlconf-target", metavar="PATH", help="target TOML (default: bundled reference SP)")
    g.addoption("--samlconf-profile", metavar="NAME", help="profile for the bundled reference SP")
    g.addoption("--samlconf-driver", default="http", help="http, browser or both (default http)")
    g.addoption("--samlconf-report-dir", metavar="DIR", help="write JSON/JUnit/HTML reports here")
    g.addoption("--samlconf-mutant", action="append", default=[], metavar="NAME",
                help="switch a reference-SP defect on (repeatable)")
    g.addoption("--samlconf-seed", type=int, help="seed for generated users")
    g.addoption("--samlconf-chromium", metavar="PATH", help="Chromium executable for the browser driver")


_ROUTER = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "samlconf(id, refs, needs): a samlconf scenario and its metadata")
    _start_router_for_workers(config)


def _start_router_for_workers(config: pytest.Config) -> None:
    """`pytest -n N` against a target of yours: the SP knows one IdP, so this (controller) process
    serves the target's IdP port and routes each login to the worker whose IdP planned it; the
    scenarios that change SP-wide state go to one worker, in order (--dist loadgroup)."""
    if hasattr(config, "workerinput") or not (config.getoption("numprocesses", None) or 0):
        return
    path = config.getoption("--samlconf-target", None)
    if not path:
        return  # the bundled reference SP: each worker starts its own SP and IdP
    from .errors import ConfigError
    from .idp_router import IdPRouter
    from .target import load_target

    try:
        target = load_target(path)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if target.embedded is not None:
        return
    try:
        router = IdPRouter(target.idp.host, target.idp.port).start()
    except OSError as exc:
        raise pytest.UsageError(f"{path}: field 'idp.port': cannot listen on {target.idp.host}:{target.idp.port} "
                                f"({exc.strerror})") from None
    config.stash[_ROUTER] = router
    if getattr(config.option, "dist", None) in ("load", "no", None):
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: hand each worker the router's address, the run's token and its route name."""
    router = node.config.stash.get(_ROUTER, None)
    if router is not None:
        node.workerinput["samlconf_router"] = router.link(node.workerinput["workerid"]).to_dict()


def pytest_unconfigure(config: pytest.Config) -> None:
    router = config.stash.get(_ROUTER, None)
    if router is not None:
        router.stop()


def _scenario_dirs() -> set[Path]:
    try:
        pkg = importlib.import_module("scenarios")
    except ImportError:
        return set()
    return {Path(p).resolve() for p in pkg.__path__}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if (file_path.suffix == ".py" and not file_path.name.startswith(("_", "test_"))
            and file_path.parent.resolve() in _scenario_dirs()):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from .registry import all_scenarios
        from .suite import drivers_from_option

        module = f"scenarios.{self.path.stem}"
        importlib.import_module(module)
        drivers = drivers_from_option(self.config.getoption("--samlconf-driver"))
        for spec in all_scenarios():
            if spec.module != module:
                continue
            for driver in drivers:
                item = ScenarioItem.from_parent(self, name=f"{spec.id}[{driver}]", spec=spec, driver=driver)
                item.add_marker(pytest.mark.samlconf(id=spec.id, refs=spec.refs, needs=spec.needs))
                if spec.shared_state:
                    item.add_marker(pytest.mark.xdist_group("samlconf-sp-state"))
                yield item


class ScenarioFailed(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__(result.reason)
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, spec: Any, driver: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec = spec
        self.driver = driver

    def runtest(self) -> None:
        engine = _engine(self.config)
        result = engine.run_one(self.spec, self.driver)
        self.user_properties.append(("samlconf_verdict", result.verdict))
        if result.verdict == "not-tested":
            pytest.skip(f"not tested: {result.reason}")
        if result.verdict in BAD:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            r = excinfo.value.result
            lines = [f"{r.id} {r.verdict.upper()}: {r.reason}",
                     f"expected {r.expected} ({r.level}) under profile {r.profile}; refs: {'; '.join(r.refs)}"]
            if r.control:
                lines.append(f"positive control: {r.control}")
            lines += [f"  {h.method} {h.url} -> {h.status}" for h in r.hops]
            if r.fix_hint:
                lines.append(f"fix: {r.fix_hint}")
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.spec.id} {self.spec.title} [{self.driver}]"


def _runtime(config: pytest.Config) -> Any:
    if _RUNTIME not in config.stash:
        from .runtime import Runtime
        from .suite import resolve_target

        from .idp_router import RouterLink

        target = resolve_target(config.getoption("--samlconf-target"), config.getoption("--samlconf-profile"))
        winput = getattr(config, "workerinput", {})
        link = winput.get("samlconf_router")
        worker = int(str(winput.get("workerid", "gw0"))[2:] or 0) if winput else 0
        rt = Runtime(target, mutants=tuple(config.getoption("--samlconf-mutant")),
                     seed=config.getoption("--samlconf-seed"),
                     router=RouterLink.from_dict(link) if link else None, worker=worker)
        rt.start()
        config.stash[_RUNTIME] = rt
    return config.stash[_RUNTIME]


def _engine(config: pytest.Config) -> Any:
    if _ENGINE not in config.stash:
        from .engine import Engine
        from .suite import drivers_from_option, report_writers

        report_dir = config.getoption("--samlconf-report-dir")
        worker = getattr(config, "workerinput", {}).get("workerid")
        if report_dir and worker:
            report_dir = str(Path(report_dir) / worker)
        chromium = config.getoption("--samlconf-chromium")
        engine = Engine(_runtime(config), drivers_from_option(config.getoption("--samlconf-driver")),
                        report_writers(Path(report_dir) if report_dir else None),
                        driver_options={"chromium": chromium} if chromium else {})
        engine.start_run([])
        config.stash[_ENGINE] = engine
        _sigterm_as_interrupt()
    return config.stash[_ENGINE]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _ENGINE in config.stash:
        config.stash[_ENGINE].finish_run(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
        del config.stash[_ENGINE]
    if _RUNTIME in config.stash:
        config.stash[_RUNTIME].stop()
        del config.stash[_RUNTIME]
    _merge_worker_reports(config)


def _sigterm_as_interrupt() -> None:
    """Once scenarios run, SIGTERM (CI cancel, `timeout`) ends the session like Ctrl-C, so the
    reports are written (marked interrupted) instead of lost."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def handler(signum: int, frame: object) -> None:
            raise KeyboardInterrupt("SIGTERM")

        signal.signal(signal.SIGTERM, handler)


def _merge_worker_reports(config: pytest.Config) -> None:
    """Under pytest-xdist each worker writes its results log into DIR/<worker>/; the controller
    merges them into one report in DIR, whatever the number of workers."""
    report_dir = config.getoption("--samlconf-report-dir", None)
    if not report_dir or hasattr(config, "workerinput"):
        return
    from reports.results_log import FILENAME, rebuild

    logs = sorted(Path(report_dir).glob(f"gw*/{FILENAME}"))
    if logs:
        rebuild(Path(report_dir), logs)


# --- fixtures for your own scenarios ------------------------------------------------------------
@pytest.fixture(scope="session")
def samlconf_runtime(request: pytest.FixtureRequest) -> Any:
    """The run's live parts: mock IdP, target (the bundled reference SP unless a target is given)."""
    return _runtime(request.config)


@pytest.fixture(scope="session")
def samlconf_idp(samlconf_runtime: Any) -> Any:
    """The mock IdP (`mock_idp.idp.MockIdP`), serving on loopback, with the target registered."""
    return samlconf_runtime.idp


@pytest.fixture(scope="session")
def samlconf_target(samlconf_runtime: Any) -> Any:
    """The target (`harness.target.Target`) with its base URL resolved."""
    return samlconf_runtime.target


@pytest.fixture
def samlconf_ctx(request: pytest.FixtureRequest, samlconf_runtime: Any) -> Iterator[Any]:
    """A ScenarioContext on a fresh driver session: `ctx.sp_login(user)`, `ctx.observe(user)`, ..."""
    from .context import ScenarioContext
    from .engine import make_driver

    name = request.config.getoption("--samlconf-driver")
    name = "http" if name == "both" else name
    driver = make_driver(name, samlconf_runtime)

    def new_session() -> Any:
        return driver.new_session(samlconf_runtime.allowed_origins())

    ctx = ScenarioContext(samlconf_runtime, new_session(), name, new_session=new_session)
    try:
        yield ctx  # ctx.restart() and ctx.open_session() work here as in the suite's scenarios
    finally:
        for session in ctx.sessions():
            session.close()
        driver.close()


@pytest.fixture
def samlconf_driver(samlconf_ctx: Any) -> Any:
    """The driver session of `samlconf_ctx` (own cookies): `navigate(url)`, `whoami(url)`."""
    return samlconf_ctx.session


@pytest.fixture
def saml_user(samlconf_ctx: Any) -> Any:
    """Factory: `saml_user(**overrides)` makes a fresh user with the profile's attributes."""
    return samlconf_ctx.new_user
