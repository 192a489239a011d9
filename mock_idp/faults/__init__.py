"""The fault library: named, documented, composable changes to what the IdP sends.

This package holds the machinery (`Fault`, the registry, `get()`); the faults themselves live in one
module per catalogue category (`signature`, `wrapping`, `parser_differentials`, `comments`, ...),
with the helpers they share in `_common`.

A fault acts at one or more points of the issuing pipeline (see `MockIdP.issue_response`):

1. ``spec``    - edit the `ResponseSpec` (times, audience, recipient, attributes, status, ...)
2. ``signing`` - edit the `SigningOptions` (who signs what, with which key and algorithms)
3. ``tree``      - edit the unsigned XML tree (comments in NameID, extra elements, ...)
   (then the Assertion is signed, and encrypted if asked)
4. ``encrypted`` - edit the EncryptedAssertion before the Response is signed (ENC shapes)
   (then the Response is signed)
5. ``signed``    - edit the signed XML tree (XSW1-8, stripping or tampering with signatures)
6. ``bytes``     - edit the serialized document (DTDs, entities)

Stage "pre-sign" means the fault acts only at points 1-4 (the signatures stay valid over the
changed content); "post-sign" means it acts at point 5 or 6 (it breaks or wraps signatures).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Sequence

from lxml import etree

if TYPE_CHECKING:  # pragma: no cover
    from ..builder import ResponseSpec
    from ..keys import KeyPair

__all__ = [
    "Fault",
    "FaultContext",
    "SigningOptions",
    "REGISTRY",
    "register",
    "get",
    "resolve",
    "all_faults",
    "FaultError",
]

Stage = Literal["pre-sign", "post-sign"]


class FaultError(ValueError):
    pass


@dataclass
class SigningOptions:
    sign_response: bool = True
    sign_assertion: bool = True
    algorithm: str = "rsa-sha256"
    digest: str = "sha256"
    key: "KeyPair | None" = None  # None -> the IdP's key
    key_info: str = "x509"  # x509 | keyvalue | both | none
    key_info_cert: "KeyPair | None" = None  # cert announced in KeyInfo (default: the signing key's)
    encrypt: bool = False
    encryption: dict[str, Any] = field(default_factory=dict)  # block/key algorithm, cert override


@dataclass
class FaultContext:
    """What a fault may look at: the IdP, the SP, keys, and a scratch dict for notes."""

    idp: Any
    sp: Any
    spec: "ResponseSpec"
    signing: SigningOptions
    notes: dict[str, Any] = field(default_factory=dict)


SpecFn = Callable[["ResponseSpec", FaultContext], "ResponseSpec | None"]
SigningFn = Callable[[SigningOptions, FaultContext], None]
TreeFn = Callable[[etree._Element, FaultContext], "etree._Element | None"]
BytesFn = Callable[[bytes, FaultContext], bytes]


@dataclass(frozen=True)
class Fault:
    id: str
    description: str
    refs: tuple[str, ...] = ()
    spec: SpecFn | None = None
    signing: SigningFn | None = None
    tree: TreeFn | None = None
    encrypted: TreeFn | None = None  # after encrypting the assertion, before signing the Response
    signed: TreeFn | None = None
    bytes_: BytesFn | None = None
    params: tuple[tuple[str, Any], ...] = ()
    factory: str | None = None  # registry name of the parameterised factory that made it
    stage_override: Stage | None = None  # e.g. a bytes-level edit that keeps signatures valid

    @property
    def stage(self) -> Stage:
        if self.stage_override:
            return self.stage_override
        return "post-sign" if (self.signed or self.bytes_) else "pre-sign"

    @property
    def label(self) -> str:
        if not self.params:
            return self.id
        return f"{self.id}(" + ",".join(f"{k}={v}" for k, v in self.params) + ")"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "refs": list(self.refs),
            "stage": self.stage,
            "params": {k: v for k, v in self.params},
        }


@dataclass(frozen=True)
class _Factory:
    id: str
    description: str
    refs: tuple[str, ...]
    make: Callable[..., Fault]
    defaults: dict[str, Any]

    @property
    def stage(self) -> Stage:
        return self.make(**self.defaults).stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "refs": list(self.refs),
            "stage": self.stage,
            "params": dict(self.defaults),
        }


REGISTRY: dict[str, Fault | _Factory] = {}


def register(f: Fault) -> Fault:
    if f.id in REGISTRY:
        raise FaultError(f"duplicate fault id {f.id!r}")
    REGISTRY[f.id] = f
    return f


def register_factory(
    id: str, description: str, refs: Sequence[str], **defaults: Any
) -> Callable[[Callable[..., Fault]], Callable[..., Fault]]:
    def deco(fn: Callable[..., Fault]) -> Callable[..., Fault]:
        def make(**kw: Any) -> Fault:
            params = {**defaults, **kw}
            unknown = set(kw) - set(defaults)
            if unknown:
                raise FaultError(f"fault {id!r} has no parameter(s) {', '.join(sorted(unknown))}")
            f = fn(**params)
            return replace(
                f,
                id=id,
                description=f.description or description,
                refs=tuple(refs),
                params=tuple(params.items()),
                factory=id,
            )

        if id in REGISTRY:
            raise FaultError(f"duplicate fault id {id!r}")
        REGISTRY[id] = _Factory(id, description, tuple(refs), make, defaults)
        make.__name__ = fn.__name__
        make.__doc__ = fn.__doc__
        return make

    return deco


def _parse_value(v: str) -> Any:
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    return v


def get(spec: str, **params: Any) -> Fault:
    """A fault by id; parameterised ones accept ``id(k=v,...)``, ``id(v)`` or keyword params."""
    name = spec.strip()
    if "(" in name and name.endswith(")"):
        name, argstr = name[:-1].split("(", 1)
        name = name.strip()
        entry = REGISTRY.get(name)
        if entry is None:
            raise FaultError(f"unknown fault {name!r}")
        if not isinstance(entry, _Factory):
            raise FaultError(f"fault {name!r} takes no parameters")
        names = list(entry.defaults)
        for i, part in enumerate(p for p in argstr.split(",") if p.strip()):
            if "=" in part:
                k, v = part.split("=", 1)
                params.setdefault(k.strip(), _parse_value(v.strip()))
            elif i < len(names):
                params.setdefault(names[i], _parse_value(part.strip()))
            else:
                raise FaultError(f"fault {name!r}: too many parameters")
    entry = REGISTRY.get(name)
    if entry is None:
        raise FaultError(f"unknown fault {name!r}")
    if isinstance(entry, _Factory):
        return entry.make(**params)
    if params:
        raise FaultError(f"fault {name!r} takes no parameters")
    return entry


def resolve(faults: Iterable[Fault | str] | Fault | str | None) -> list[Fault]:
    if faults is None:
        return []
    if isinstance(faults, (Fault, str)):
        faults = [faults]
    return [f if isinstance(f, Fault) else get(f) for f in faults]


def all_faults() -> list[Fault | _Factory]:
    return sorted(REGISTRY.values(), key=lambda f: f.id)


# The faults themselves, one module per catalogue category (importing them registers them).
from . import (  # noqa: E402,F401
    signature,
    keys,
    algorithms,
    wrapping,
    parser_differentials,
    comments,
    xml_parsing,
    validity,
    audience,
    destination,
    correlation,
    replay,
    issuer,
    status,
    cardinality,
    nameid,
    attributes,
    encryption,
    interop,
)
