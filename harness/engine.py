"""The engine: runs scenarios (with positive controls) and emits events. No pytest, no CLI here."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

import httpx

from .context import ScenarioContext
from .drivers.http import HttpDriver
from .errors import HarnessError, SamlconfError, TargetError, one_line
from .events import (
    Event,
    HopEvent,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioResult,
    ScenarioStarted,
)
from .registry import ACCEPT, REJECT, ScenarioSpec
from .runtime import Runtime
from .sp_metadata import expectation_source
from .verdict import Observation, Verdict, decide


def make_driver(name: str, runtime: Runtime, **options: Any) -> Any:
    t = runtime.target
    if name == "http":
        return HttpDriver(timeout=httpx.Timeout(t.timeouts.read, connect=t.timeouts.connect), ca_file=t.ca_file)
    if name == "browser":
        from .drivers.browser import BrowserDriver

        return BrowserDriver(runtime, **options)
    raise HarnessError(f"driver {name!r}: unknown (http, browser)")


CONTROL_BATCH = 8  # refusals sharing one positive control after them (Engine.run_batch)


def samlconf_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("samlconf")
    except PackageNotFoundError:
        return "0+unknown"


def baseline(ctx: ScenarioContext, flow: str) -> Observation:
    """The valid baseline (POS-01/POS-02 shape) for the same flow, used as positive control; encrypted
    where the SP declares that it requires encrypted Assertions."""
    from mock_idp.faults import get

    user = ctx.new_user()
    pol = getattr(ctx.runtime, "sp_policy", None)
    faults = [get("encrypted-assertion")] if pol is not None and pol.requires_encrypted_assertions else []
    if pol is not None and pol.requested_authn_context:  # the class the SP requires (MAS-07)
        faults.append(get("authn-context", cls=pol.requested_authn_context))
    if flow == "idp":
        ctx.idp_login(user, faults)
    else:
        ctx.sp_login(user, faults)
    return ctx.observe(user)


class Engine:
    def __init__(self, runtime: Runtime, drivers: Sequence[str] = ("http",),
                 listeners: Iterable[Callable[[Event], None]] = (), driver_options: dict[str, Any] | None = None) -> None:
        self.runtime = runtime
        self.driver_names = list(drivers)
        self.listeners = list(listeners)
        self._drivers: dict[str, Any] = {}
        self._driver_options = driver_options or {}
        self.results: list[ScenarioResult] = []
        # Shared positive controls (Engine.run): per (driver, flow), whether a valid login succeeded
        # since the last failed control, and the refusals waiting for the control after them.
        self.control_batch = 1
        self.controls_run = 0
        self._good: dict[tuple[str, str], bool] = {}
        self._pending: dict[tuple[str, str], list[tuple[ScenarioSpec, ScenarioResult]]] = {}

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def driver(self, name: str) -> Any:
        if name not in self._drivers:
            self._drivers[name] = make_driver(name, self.runtime, **self._driver_options)
        return self._drivers[name]

    def close(self) -> None:
        for d in self._drivers.values():
            d.close()
        self._drivers.clear()

    # --- running --------------------------------------------------------------------------
    def run(self, specs: Sequence[ScenarioSpec], *, control_batch: int = CONTROL_BATCH) -> list[ScenarioResult]:
        self.start_run(specs)
        interrupted = False
        try:
            self.run_batch(specs, self.driver_names, control_batch=control_batch)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            self.finish_run(interrupted)
        return self.results

    def run_batch(self, specs: Sequence[ScenarioSpec], drivers: Sequence[str], *,
                  control_batch: int = CONTROL_BATCH) -> list[ScenarioResult]:
        """Run scenarios with shared positive controls; every result is emitted before it returns.

        The promise of a positive control is kept: a refusal counts only when a valid login in a
        fresh session succeeded before it and another one after it. The cheapest schedule that keeps
        it: one control before the first negative scenario of a flow, then refusals wait (at most
        `control_batch` of them) for one control after them, which is also the control before the
        next ones. If that control fails, every refusal waiting for it is `inconclusive`, and the
        next negative scenario runs its own control first. A scenario the SP accepted, or that
        errored, needs no control and is reported at once.
        """
        before = len(self.results)
        self.control_batch = max(1, control_batch)
        try:
            for spec in specs:
                for name in drivers:
                    self.run_one(spec, name)
            self.flush_controls()
        except KeyboardInterrupt:
            self._abandon_pending("the run was interrupted before the positive control after it")
            raise
        except BaseException:
            self._abandon_pending("the run stopped before the positive control after it")
            raise
        finally:
            self.control_batch = 1
        return self.results[before:]

    def _abandon_pending(self, why: str) -> None:
        for key in list(self._pending):
            for _spec, result in self._pending.pop(key):
                result.verdict, result.reason = Verdict.INCONCLUSIVE.value, why
                self.results.append(result)
                self.emit(ScenarioFinished(result))

    def flush_controls(self) -> None:
        """Run the control after the refusals still waiting for one, and report them."""
        for key in list(self._pending):
            self._flush(key)

    def _flush(self, key: tuple[str, str]) -> None:
        waiting = self._pending.pop(key, [])
        if not waiting:
            return
        spec0 = waiting[0][0]
        try:
            failed, note = self._control(spec0, key[0])
        except SamlconfError as exc:  # the target broke: the refusals prove nothing either
            failed = one_line(exc)
            note = f"control could not run: {failed}"
        self._good[key] = failed is None
        for spec, result in waiting:
            if failed is None:
                result.control = (f"{result.control}; after it: {note}" if result.control else note) + \
                    f" (one control shared by {len(waiting)} refusal(s))"
            else:
                result.verdict = Verdict.INCONCLUSIVE.value
                result.reason = f"positive control after it failed: {failed} (the refusal proves nothing)"
                result.control = f"after it: {note}"
            self.results.append(result)
            self.emit(ScenarioFinished(result))

    def start_run(self, specs: Sequence[ScenarioSpec]) -> None:
        import hashlib

        rt = self.runtime
        md = getattr(rt, "sp_metadata", None)
        self.emit(RunStarted(
            target=rt.target.name, profile=rt.profile.name,
            drivers=self.driver_names, scenario_ids=[s.id for s in specs],
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            mutants=sorted(getattr(rt, "mutants", ()) or ()), version=samlconf_version(),
            sp_metadata_sha256=hashlib.sha256(md).hexdigest() if md else "",
        ))

    def finish_run(self, interrupted: bool = False) -> None:
        self.close()
        self.emit(RunFinished(list(self.results), interrupted,
                              datetime.now(timezone.utc).isoformat(timespec="seconds")))

    def _session(self, driver_name: str, spec_id: str) -> Any:
        def on_hop(hop: Any) -> None:
            self.emit(HopEvent(spec_id, driver_name, hop))

        from .drivers.http import origin

        return self.driver(driver_name).new_session(self.runtime.allowed_origins(), on_hop,
                                                    idp_origin=origin(self.runtime.idp_base_url))

    def _flow(self, spec: ScenarioSpec) -> str:
        if "idp_initiated" in spec.needs and self.runtime.accepts_unsolicited:
            return "idp"
        return "sp"

    def run_one(self, spec: ScenarioSpec, driver_name: str = "http") -> ScenarioResult:
        self.emit(ScenarioStarted(spec.id, driver_name))
        start = time.perf_counter()
        profile = self.runtime.profile.name
        expected = spec.expected_for(self.runtime)
        caps = self.runtime.capabilities()
        missing = next((f"needs {n}: {caps[n]}" for n in spec.needs if caps.get(n)), None)
        error = control_failed = control_note = None
        observation: Observation | None = None
        ctx: ScenarioContext | None = None
        control_ctx: list[ScenarioContext] = []
        shared = self.control_batch > 1 and expected is REJECT
        key = (driver_name, self._flow(spec))
        if not missing:
            try:
                if expected is REJECT and shared and self._good.get(key):
                    control_note = "before it: a valid login succeeded (shared control)"
                elif expected is REJECT:
                    control_failed, control_note = self._control(spec, driver_name, control_ctx)
                    if shared:
                        self._good[key] = control_failed is None
                if not control_failed:
                    ctx = self._new_context(spec, driver_name)
                    observation = self._run_body(spec, ctx)
                    if expected is ACCEPT and not observation.accepted and ctx.diagnostics:
                        # a login that failed: say why, where the browser can tell
                        observation.note = "; ".join(filter(None, [observation.note,
                                                                   "browser: " + "; ".join(ctx.diagnostics)]))
                    if expected is ACCEPT and not observation.accepted and (observation.refusal_ok or observation.policy):
                        # a refusal that counts as safe (or as policy) proves something only if the
                        # valid baseline is accepted in a fresh session
                        control_failed, control_note = self._control(spec, driver_name, control_ctx)
            except TargetError as exc:
                error = one_line(exc)
            except SamlconfError as exc:
                error = f"harness: {one_line(exc)}"
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - a scenario bug is an `error`, never a pass
                error = f"harness bug: {type(exc).__name__}: {one_line(exc)}"
        verdict, reason = decide(expected, spec.level, observation, error=error,
                                 missing=missing, control_failed=control_failed)
        hops: list[Any] = []
        artifacts: list[str] = []
        findings: list[str] = []
        # Evidence survives every verdict: the hops and artifacts of the control (when it broke or
        # failed) and of the scenario's own sessions, also after an error.
        show_control = bool(control_failed) or (bool(error) and ctx is None)
        for c in [*control_ctx, *([ctx] if ctx is not None else [])]:
            shown = c is ctx or show_control
            if shown:
                hops += list(c.hops)
                artifacts += c.artifacts
            for session in c.sessions():
                self._close_session(session, keep_trace=shown and verdict is not Verdict.PASS)
                if shown:
                    artifacts += list(getattr(session, "artifacts", []))
        if ctx is not None:
            bad_input = "to bad input" if expected is REJECT else "to a SAML message"
            for e, n in Counter(ctx.server_errors).items():
                findings.append(f"SHOULD (robustness): the SP answered a server error {bad_input}: {e}"
                                + (f" ({n} times)" if n > 1 else "") + "; refuse with a clear 4xx or an error page instead")
            findings += [f"browser: {d}" for d in ctx.diagnostics]
            findings += [f"cleanup failed, the SP keeps a change of this scenario: {f}"
                         for f in ctx.cleanup_failures]
        sent: list[dict[str, Any]] = ctx.sent() if ctx is not None else []
        result = ScenarioResult(
            id=spec.id, title=spec.title, category=spec.category, verdict=verdict.value,
            reason=reason, duration=round(time.perf_counter() - start, 4), driver=driver_name,
            profile=profile, expected=expected.value, level=spec.level.value, refs=spec.refs,
            hops=hops, control=control_note, fix_hint=spec.fix_hint, artifacts=artifacts, sent=sent,
            findings=findings, expected_from=expectation_source(spec, self.runtime, observation),
        )
        if shared and verdict is Verdict.PASS and observation is not None and not observation.accepted:
            self._pending.setdefault(key, []).append((spec, result))  # waits for the control after it
            if len(self._pending[key]) >= self.control_batch:
                self._flush(key)
            return result
        self.results.append(result)
        self.emit(ScenarioFinished(result))
        return result

    def _new_context(self, spec: ScenarioSpec, driver_name: str) -> ScenarioContext:
        ctx = ScenarioContext(self.runtime, self._session(driver_name, spec.id), driver_name,
                              new_session=lambda: self._session(driver_name, spec.id))
        ctx.expected = spec.expected_for(self.runtime)
        ctx.level = spec.level
        return ctx

    def _run_body(self, spec: ScenarioSpec, ctx: ScenarioContext) -> Observation:
        """Run the scenario in `ctx`'s fresh session; the caller closes its sessions once judged."""
        try:
            obs = spec.func(ctx)
        finally:
            ctx.cleanup_failures = ctx.undo()  # e.g. the IdP configurations it added (delete_idp)
        if not isinstance(obs, Observation):
            raise HarnessError(f"scenario {spec.id} returned {type(obs).__name__}, not an Observation")
        if ctx.notes and not obs.note:
            obs.note = "; ".join(ctx.notes)
        return obs

    def _control(self, spec: ScenarioSpec, driver_name: str,
                 keep: list[ScenarioContext] | None = None) -> tuple[str | None, str]:
        """Positive control: the valid baseline, same flow, fresh session. (failure reason, note).
        The control's context goes to `keep` (its sessions stay open for the evidence of a failure)."""
        self.controls_run += 1
        session = self._session(driver_name, spec.id + ":control")
        if hasattr(session, "quiet"):
            session.quiet = True  # its evidence is shown only if it fails: no screenshot before then
        ctx = ScenarioContext(self.runtime, session, driver_name)
        if keep is not None:
            keep.append(ctx)
        try:
            obs = baseline(ctx, self._flow(spec))
            if not obs.accepted and ctx.diagnostics:
                obs.note = "; ".join(filter(None, [obs.note, "browser: " + "; ".join(ctx.diagnostics)]))
        finally:
            if keep is None:
                self._close_session(session, keep_trace=False)
        v, why = decide(ACCEPT, spec.level, obs)
        if keep is not None and v is Verdict.PASS:
            self._close_session(session, keep_trace=False)
            keep.remove(ctx)
        if v is Verdict.PASS:
            return None, f"baseline accepted ({why})"
        return why, f"baseline refused ({why})"

    @staticmethod
    def _close_session(session: Any, keep_trace: bool) -> None:
        closer = getattr(session, "close")
        try:
            closer(keep_trace=keep_trace)  # browser sessions keep a trace on failure
        except TypeError:
            closer()




def error_results(target: Any, specs: Sequence[ScenarioSpec], drivers: Sequence[str], reason: str,
                  listeners: Iterable[Callable[[Event], None]]) -> list[ScenarioResult]:
    """When the target cannot be set up at all: every scenario is `error` with the reason; reports written."""
    from .profiles import load_profile

    profile = load_profile(target.profile).name
    listeners = list(listeners)
    results = [
        ScenarioResult(id=s.id, title=s.title, category=s.category, verdict=Verdict.ERROR.value,
                       reason=reason, duration=0.0, driver=d, profile=profile,
                       expected=s.expected(profile).value, level=s.level.value, refs=s.refs,
                       fix_hint=s.fix_hint)
        for s in specs for d in drivers
    ]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    events: list[Event] = [RunStarted(target.name, profile, list(drivers), [s.id for s in specs], now,
                                      version=samlconf_version())]
    events += [ScenarioFinished(r) for r in results]
    events.append(RunFinished(results, False, now))
    for e in events:
        for listener in listeners:
            listener(e)
    return results
