"""nox sessions: tests, the demo run, the interop lab, and benchmarks (speed/memory goals live in bench/, not in tests)."""
from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
INSTALL = ["-c", "constraints.txt", "-e", ".[dev]"]


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-n", "2", *session.posargs)


@nox.session(python=False)
def demo(session: nox.Session) -> None:
    session.run("samlconf", "run", "--report-dir", "samlconf-report", *session.posargs)


@nox.session(python=False)
def lab(session: nox.Session) -> None:
    """The interop lab (lab/README.md): real SPs and library twins against lab/expected.toml."""
    session.run("python", "-m", "lab.run", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    session.install(*INSTALL)
    session.run("python", "-m", "bench", *session.posargs)
