"""Error types that carry one clear line for the user."""
from __future__ import annotations


class SamlconfError(Exception):
    """Base class: `str(err)` is a single line naming what is wrong and where."""


class ConfigError(SamlconfError):
    """A target file, profile or option is wrong (CLI exit code 2)."""


class TargetError(SamlconfError):
    """The target SP broke or could not be reached: the scenario's verdict is `error`."""


class HarnessError(SamlconfError):
    """samlconf itself could not do what the scenario asked: verdict `error`."""


def one_line(exc: BaseException) -> str:
    """Collapse an exception's text to one line (first line, trimmed), prefixed with its type if empty."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
