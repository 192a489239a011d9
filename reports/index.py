"""One index page for a run over several profiles (`samlconf run` without --target): a row per
profile with the counts of its JSON results and links to its reports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from .atomic import write_atomic
from .html import _ENV, COLOURS

FILENAME = "index.html"


def write_index(report_dir: Path, sub_dirs: Iterable[Path]) -> Path:
    runs = []
    for d in sub_dirs:
        p = Path(d) / "samlconf-results.json"
        if not p.is_file():
            continue
        doc = json.loads(p.read_text(encoding="utf-8"))
        runs.append({"profile": doc.get("profile", d.name), "target": doc.get("target", ""),
                     "summary": doc.get("summary", {}), "total": len(doc.get("scenarios", [])),
                     "interrupted": doc.get("interrupted", False),
                     "dir": Path(d).relative_to(report_dir).as_posix()})
    out = Path(report_dir) / FILENAME
    write_atomic(out, _ENV.get_template("index.html.j2").render(runs=runs, colours=COLOURS))
    return out
