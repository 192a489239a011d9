"""`samlconf report diff OLD NEW`: what changed between two JSON results files (regressions first)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

GOOD = {"pass", "not-tested"}


def load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: results file not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a samlconf JSON results file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("tool") != "samlconf" or "scenarios" not in doc:
        raise ConfigError(f"{path}: not a samlconf JSON results file (no 'tool': 'samlconf')")
    return doc


def _index(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['id']}[{s.get('driver', 'http')}]": s for s in doc["scenarios"]}


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    a, b = _index(old), _index(new)
    out: dict[str, list[dict[str, Any]]] = {"regressions": [], "fixes": [], "changed": [], "added": [], "removed": []}
    for key in sorted(set(a) | set(b)):
        if key not in a:
            out["added"].append({"key": key, "verdict": b[key]["verdict"]})
        elif key not in b:
            out["removed"].append({"key": key, "verdict": a[key]["verdict"]})
        elif a[key]["verdict"] != b[key]["verdict"]:
            row = {"key": key, "old": a[key]["verdict"], "new": b[key]["verdict"], "evidence": b[key].get("evidence", "")}
            if a[key]["verdict"] in GOOD and b[key]["verdict"] not in GOOD:
                out["regressions"].append(row)
            elif a[key]["verdict"] not in GOOD and b[key]["verdict"] in GOOD:
                out["fixes"].append(row)
            else:
                out["changed"].append(row)
    return out


def render(d: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    label = {"regressions": "regression", "fixes": "fix", "changed": "changed"}
    for section in ("regressions", "fixes", "changed"):
        for r in d[section]:
            lines.append(f"{label[section]}: {r['key']} {r['old']} -> {r['new']}"
                         + (f"  ({r['evidence']})" if section != "fixes" and r["evidence"] else ""))
    lines += [f"added: {r['key']} ({r['verdict']})" for r in d["added"]]
    lines += [f"removed: {r['key']} (was {r['verdict']})" for r in d["removed"]]
    counts = ", ".join(f"{len(v)} {k}" for k, v in d.items())
    return "\n".join(lines + [counts])
