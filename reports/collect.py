"""The part every file report shares: collect the run's metadata and results from the engine's
events, and write the file once, when the run finishes (also after Ctrl-C: `interrupted`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.events import Event, RunFinished, RunStarted, ScenarioFinished, ScenarioResult


class CollectingWriter:
    """Subclasses name their `filename` and write it in `finish(end)`."""

    filename = ""

    def __init__(self, report_dir: Path) -> None:
        self.path = Path(report_dir) / self.filename
        self.meta: dict[str, Any] = {}
        self.results: list[ScenarioResult] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.meta, self.results = event.meta(), []
            self.started(event)
        elif isinstance(event, ScenarioFinished):
            self.results.append(event.result)
        elif isinstance(event, RunFinished):
            self.finish(event)

    def started(self, event: RunStarted) -> None:
        """What a writer keeps of the run's start beyond `meta` (nothing by default)."""

    def finish(self, end: RunFinished) -> None:
        raise NotImplementedError
