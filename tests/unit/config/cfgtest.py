"""Helpers for the config tests: write a file, load it with a table resolver."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import textwrap
from pathlib import Path

from ldirectorpy.config import LoadResult, StaticResolver, load

RESOLVER = StaticResolver(
    hosts={
        "www.example.com": "192.0.2.80",
        "ip6.example.com": "2001:db8::80",
        "sql01": "198.51.100.1",
        "sql02": "198.51.100.2",
        "sql03": "198.51.100.3",
        "sorry.example.com": "198.51.100.250",
    },
    services={"http": 80, "https": 443, "domain": 53, "ms-wbt-server": 3389, "smtp": 25},
    name="director.example",
)

# A minimal valid virtual section, for tests of global lines.
V = "virtual = 192.0.2.10:80\n    real = 192.0.2.11:80 gate\n"

_DIR = Path(tempfile.mkdtemp(prefix="ldirectorpy-config-tests-"))
_DIR.chmod(0o700)
atexit.register(shutil.rmtree, _DIR, True)
_counter = itertools.count()


def write(text: str, name: str | None = None) -> Path:
    """A fresh file holding `text` (dedented), in a private directory."""
    path = _DIR / (name or f"t{next(_counter)}.cf")
    path.write_text(textwrap.dedent(text))
    path.chmod(0o644)
    return path


def lint(text: str, *, dedent: bool = True) -> LoadResult:
    path = _DIR / f"t{next(_counter)}.cf"
    path.write_text(textwrap.dedent(text) if dedent else text)
    path.chmod(0o644)
    return load(path, resolver=RESOLVER)


def codes(result: LoadResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def virtual(text: str, *, extra_global: str = "", real: bool = True) -> LoadResult:
    """Load `extra_global` + a virtual section (with one real) whose body is `text`."""
    if real:
        text = "real = 192.0.2.11:80 gate\n" + textwrap.dedent(text)
    body = textwrap.indent(textwrap.dedent(text).strip("\n"), "    ")
    return lint(extra_global + "virtual = 192.0.2.10:80\n" + body + "\n", dedent=False)
