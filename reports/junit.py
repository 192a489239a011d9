"""JUnit XML for CI systems, fed by the engine's events."""
from __future__ import annotations

from xml.etree import ElementTree as ET

from harness.events import RunFinished, RunStarted, ScenarioResult

from .atomic import write_atomic
from .collect import CollectingWriter

FILENAME = "samlconf-junit.xml"


class JUnitWriter(CollectingWriter):
    filename = FILENAME
    name = "samlconf"

    def started(self, event: RunStarted) -> None:
        self.name = f"samlconf: {event.target} ({event.profile})"

    def finish(self, end: RunFinished) -> None:
        rs = self.results
        suite = ET.Element("testsuite", {
            "name": self.name,
            "tests": str(len(rs)),
            "failures": str(sum(r.verdict in ("fail", "warn") for r in rs)),
            "errors": str(sum(r.verdict in ("error", "inconclusive") for r in rs)),
            "skipped": str(sum(r.verdict == "not-tested" for r in rs)),
            "time": f"{sum(r.duration for r in rs):.3f}",
        })
        props = ET.SubElement(suite, "properties")
        for k, v in self.meta.items():
            ET.SubElement(props, "property", {"name": f"samlconf.{k}",
                                              "value": ",".join(v) if isinstance(v, list) else str(v)})
        for r in rs:
            case = ET.SubElement(suite, "testcase", {
                "classname": f"samlconf.{r.category}.{r.driver}",
                "name": f"{r.id} {r.title}",
                "time": f"{r.duration:.3f}",
            })
            if r.verdict in ("fail", "warn"):
                ET.SubElement(case, "failure", {"message": r.reason, "type": r.verdict}).text = _detail(r)
            elif r.verdict in ("error", "inconclusive"):
                ET.SubElement(case, "error", {"message": r.reason, "type": r.verdict}).text = _detail(r)
            elif r.verdict == "not-tested":
                ET.SubElement(case, "skipped", {"message": r.reason})
            else:
                ET.SubElement(case, "system-out").text = "\n".join([r.reason, *r.findings])
            policy = r.expected_from if r.expected_from.startswith("the SP's declared policy") else ""
            if r.findings or policy:
                props = ET.Element("properties")
                case.insert(0, props)
                if policy:  # the expectation came from the SP's metadata or [sp.policy], not the profile
                    ET.SubElement(props, "property", {"name": "expected_from", "value": policy})
                for f in r.findings:
                    ET.SubElement(props, "property", {"name": "finding", "value": f})
        ET.indent(suite)
        write_atomic(self.path, ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n")


def _detail(r: ScenarioResult) -> str:
    lines = [r.reason, f"expected: {r.expected} ({r.level}) from {r.expected_from or 'profile ' + r.profile}; "
                       f"refs: {', '.join(r.refs)}"]
    if r.control:
        lines.append(f"positive control: {r.control}")
    lines += [f"finding: {f}" for f in r.findings]
    for h in r.hops:
        lines.append(f"{h.method} {h.url} -> {h.status}")
    if r.fix_hint:
        lines.append(f"fix: {r.fix_hint}")
    return "\n".join(lines)
