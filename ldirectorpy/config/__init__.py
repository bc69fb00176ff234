"""Reading ldirectord.cf: directives table, parser, immutable model, diagnostics.

from ldirectorpy.config import load, find_config
result = load(find_config("ldirectord.cf") or "ldirectord.cf")
if result.config is None: ...  # result.diagnostics says why
"""

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
