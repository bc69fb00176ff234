"""Reading ldirectord.cf: directives table, parser, immutable model, diagnostics.

from ldirectorpy.config import load, find_config
result = load(find_config("ldirectord.cf") or "ldirectord.cf")
if result.config is None: ...  # result.diagnostics says why

The names below are imported on first use, so that `ldirectorpy status` and
`stop`, which only need `find_config`, do not pay for the parser.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ldirectorpy.config.diagnostics import Diagnostic, Loc, Severity
    from ldirectorpy.config.loader import load
    from ldirectorpy.config.locate import find_config
    from ldirectorpy.config.model import (
        Config,
        Fallback,
        Forward,
        LoadResult,
        Protocol,
        Real,
        Virtual,
    )
    from ldirectorpy.config.resolve import Resolver, StaticResolver, SystemResolver

_HOMES = {
    "Diagnostic": "diagnostics",
    "Loc": "diagnostics",
    "Severity": "diagnostics",
    "load": "loader",
    "find_config": "locate",
    "Config": "model",
    "Fallback": "model",
    "Forward": "model",
    "LoadResult": "model",
    "Protocol": "model",
    "Real": "model",
    "Virtual": "model",
    "Resolver": "resolve",
    "StaticResolver": "resolve",
    "SystemResolver": "resolve",
}

__all__ = [
    "Config",
    "Diagnostic",
    "Fallback",
    "Forward",
    "LoadResult",
    "Loc",
    "Protocol",
    "Real",
    "Resolver",
    "Severity",
    "StaticResolver",
    "SystemResolver",
    "Virtual",
    "find_config",
    "load",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
