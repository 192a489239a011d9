"""The run's results as JSON lines, written as they happen: the one file a killed run still leaves.

`samlconf-results.jsonl` gets one line when the run starts, one per finished scenario (flushed at
once) and one when the run ends. The other reports (JSON, JUnit, HTML) are built from the same
events at the end of the run; `samlconf report build DIR` rebuilds them from this file after a run
that was killed outright, and the pytest plugin merges its workers' files into one report.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Iterable

from harness.events import Event, Hop, RunFinished, RunStarted, ScenarioFinished, ScenarioResult

FILENAME = "samlconf-results.jsonl"


def to_record(result: ScenarioResult) -> dict[str, Any]:
    """Every field of a result (more than the public JSON carries), for a faithful rebuild."""
    d = dataclasses.asdict(result)
    d["hops"] = [h.to_dict() for h in result.hops]
    d["refs"] = list(result.refs)
    return d


def from_record(d: dict[str, Any]) -> ScenarioResult:
    known = {f.name for f in dataclasses.fields(ScenarioResult)}
    kw = {k: v for k, v in d.items() if k in known}
    hop_fields = {f.name for f in dataclasses.fields(Hop)}
    kw["hops"] = [Hop(**{k: v for k, v in h.items() if k in hop_fields}) for h in d.get("hops", [])]
    kw["refs"] = tuple(d.get("refs", ()))
    return ScenarioResult(**kw)


class ResultsLogWriter:
    """Appends each event as it happens; the file is complete up to the last finished scenario."""

    def __init__(self, report_dir: Path) -> None:
        self.path = Path(report_dir) / FILENAME
        self._fh: Any = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self._write({"event": "run-started", **dataclasses.asdict(event)})
        elif isinstance(event, ScenarioFinished):
            self._write({"event": "scenario-finished", "result": to_record(event.result)})
        elif isinstance(event, RunFinished):
            self._write({"event": "run-finished", "interrupted": event.interrupted,
                         "finished_at": event.finished_at})
            self._fh.close()
            self._fh = None


def read(path: Path) -> tuple[RunStarted | None, list[ScenarioResult], RunFinished]:
    """The events of one log. A log cut short (the run was killed) ends as an interrupted run; a torn
    last line is ignored."""
    from harness.errors import ConfigError

    start: RunStarted | None = None
    results: list[ScenarioResult] = []
    end: RunFinished | None = None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except ValueError:
            if n == len(lines):
                break  # the run died while writing this line
            raise ConfigError(f"{path}:{n}: not a JSON line") from None
        kind = rec.pop("event", None)
        if kind == "run-started":
            fields = {f.name for f in dataclasses.fields(RunStarted)}
            start = RunStarted(**{k: v for k, v in rec.items() if k in fields})
        elif kind == "scenario-finished":
            results.append(from_record(rec["result"]))
        elif kind == "run-finished":
            end = RunFinished(list(results), bool(rec.get("interrupted")), rec.get("finished_at", ""))
    if end is None:
        end = RunFinished(list(results), True, "")
    return start, results, end


def replay(events: Iterable[Event], listeners: Iterable[Callable[[Event], None]]) -> None:
    listeners = list(listeners)
    for e in events:
        for listener in listeners:
            listener(e)


def rebuild(report_dir: Path, sources: Iterable[Path] | None = None) -> int:
    """Write the JSON, JUnit and HTML reports of `report_dir` from results logs (default: its own;
    several logs, e.g. one per pytest-xdist worker, are merged into one run). Returns the number
    of scenario results written."""
    from harness.suite import report_writers

    sources = list(sources) if sources is not None else [Path(report_dir) / FILENAME]
    start: RunStarted | None = None
    results: list[ScenarioResult] = []
    interrupted = False
    finished = ""
    for src in sources:
        s, rs, end = read(src)
        if start is None and s is not None:
            start = s
        elif s is not None:
            start.drivers = sorted(set(start.drivers) | set(s.drivers))
            start.scenario_ids = start.scenario_ids + [i for i in s.scenario_ids if i not in start.scenario_ids]
            start.started_at = min(start.started_at, s.started_at)
        results += rs
        interrupted = interrupted or end.interrupted
        finished = max(finished, end.finished_at)
    if start is None:
        start = RunStarted(target="", profile="", drivers=[], scenario_ids=[], started_at="")
    writers = [w for w in report_writers(Path(report_dir)) if not isinstance(w, ResultsLogWriter)]
    replay([start, *[ScenarioFinished(r) for r in results], RunFinished(results, interrupted, finished)],
           writers)
    return len(results)
