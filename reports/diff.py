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


def warnings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why the two runs may not be comparable (another target or profile)."""
    out = []
    for key in ("target", "profile"):
        if old.get(key) != new.get(key):
            out.append(f"the runs have different {key}s ({old.get(key)!r} vs {new.get(key)!r}): "
                       "verdicts may differ for that reason alone")
    return out


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """Regressions (good -> bad), coverage loss (pass -> not tested, or a pass that disappeared),
    fixes, other changes, added and removed scenarios; plus warnings when the runs differ in target
    or profile."""
    a, b = _index(old), _index(new)
    out: dict[str, list[Any]] = {"regressions": [], "coverage_loss": [], "fixes": [], "changed": [],
                                 "added": [], "removed": [], "warnings": warnings(old, new)}
    for key in sorted(set(a) | set(b)):
        if key not in a:
            out["added"].append({"key": key, "verdict": b[key]["verdict"]})
        elif key not in b:
            out["removed"].append({"key": key, "verdict": a[key]["verdict"]})
            if a[key]["verdict"] == "pass":
                out["coverage_loss"].append({"key": key, "old": "pass", "new": "(not run)", "evidence": ""})
        elif a[key]["verdict"] != b[key]["verdict"]:
            row = {"key": key, "old": a[key]["verdict"], "new": b[key]["verdict"], "evidence": b[key].get("evidence", "")}
            if a[key]["verdict"] == "pass" and b[key]["verdict"] == "not-tested":
                out["coverage_loss"].append(row)
            elif a[key]["verdict"] in GOOD and b[key]["verdict"] not in GOOD:
                out["regressions"].append(row)
            elif a[key]["verdict"] not in GOOD and b[key]["verdict"] in GOOD:
                out["fixes"].append(row)
            else:
                out["changed"].append(row)
    return out


def render(d: dict[str, list[Any]]) -> str:
    lines = [f"warning: {w}" for w in d.get("warnings", [])]
    label = {"regressions": "regression", "coverage_loss": "coverage loss", "fixes": "fix", "changed": "changed"}
    for section in ("regressions", "coverage_loss", "fixes", "changed"):
        for r in d[section]:
            lines.append(f"{label[section]}: {r['key']} {r['old']} -> {r['new']}"
                         + (f"  ({r['evidence']})" if section != "fixes" and r["evidence"] else ""))
    lines += [f"added: {r['key']} ({r['verdict']})" for r in d["added"]]
    lines += [f"removed: {r['key']} (was {r['verdict']})" for r in d["removed"]]
    counts = ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in d.items() if k != "warnings")
    return "\n".join(lines + [counts])
