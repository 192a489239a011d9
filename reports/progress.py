"""Progress of a long run, fed by the engine's events: on a terminal a rich progress bar (done /
total, the scenario running, verdict counts, elapsed and remaining time); elsewhere (CI logs) one
plain line per finished scenario."""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

from harness.events import Event, RunFinished, RunStarted, ScenarioFinished, ScenarioStarted

ORDER = ("fail", "error", "inconclusive", "warn", "info", "not-tested", "pass")


def _counts(c: Counter) -> str:
    return " ".join(f"{v} {c[v]}" for v in ORDER if c.get(v))


class Progress:
    def __init__(self, stream: TextIO | None = None, *, rich: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.rich = self.stream.isatty() if rich is None else rich
        self.total = 0
        self.done = 0
        self.counts: Counter = Counter()
        self.started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.total = len(event.scenario_ids) * max(1, len(event.drivers))
            self.done, self.counts, self.started = 0, Counter(), time.monotonic()
            if self.rich:
                self._start_bar(event)
        elif isinstance(event, ScenarioStarted):
            if self._bar is not None:
                self._bar.update(self._task, current=f"{event.id} [{event.driver}]")
        elif isinstance(event, ScenarioFinished):
            r = event.result
            self.done += 1
            self.counts[r.verdict] += 1
            if self._bar is not None:
                self._bar.update(self._task, advance=1, counts=_counts(self.counts))
            else:
                remaining = self._remaining()
                self.stream.write(f"[{self.done}/{self.total}] {r.id} [{r.driver}] {r.verdict} "
                                  f"({r.duration:.2f} s){remaining}\n")
                self.stream.flush()
        elif isinstance(event, RunFinished):
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
            self.stream.write(f"samlconf: {self.done} result(s) in {time.monotonic() - self.started:.1f} s: "
                              f"{_counts(self.counts) or 'none'}" + (" (interrupted)" if event.interrupted else "")
                              + "\n")
            self.stream.flush()

    def _remaining(self) -> str:
        if not self.done or self.done >= self.total:
            return ""
        left = (time.monotonic() - self.started) / self.done * (self.total - self.done)
        return f", ~{left:.0f} s left"

    def _start_bar(self, event: RunStarted) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, \
            TimeElapsedColumn, TimeRemainingColumn

        self._bar = Bar(TextColumn(f"[bold]{event.profile or event.target}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                        TextColumn("{task.fields[current]}"), TextColumn("{task.fields[counts]}"),
                        console=Console(file=self.stream), transient=True)
        self._task = self._bar.add_task("run", total=self.total, current="", counts="")
        self._bar.start()
