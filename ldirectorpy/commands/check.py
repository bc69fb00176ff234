"""ldirectorpy --check [--format text|json] [CONFIG ...]: lint ldirectord.cf files.

Reports every problem in one pass as `path:line:col: error|warning: message [code]`,
with an indented `hint:` line where one helps. CONFIG defaults to ldirectord.cf and
is looked up like ldirectord: /etc/ha.d/CONFIG, /etc/ha.d/conf/CONFIG, then CONFIG.

Exit status: 0 no errors (warnings allowed), 2 any error, 1 a file cannot be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ldirectorpy.config import LoadResult, find_config, load
from ldirectorpy.config.locate import DEFAULT_NAME
from ldirectorpy.config.resolve import Resolver

EXIT_OK = 0
EXIT_UNREADABLE = 1
EXIT_ERRORS = 2
EXIT_USAGE = 255  # as the rest of the command line

USAGE = "usage: ldirectorpy --check [--format text|json] [CONFIG ...]\n"


def _parse_args(argv: Sequence[str]) -> tuple[str, list[str]] | str:
    fmt = "text"
    names: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            names.extend(args)
            break
        if arg == "--format":
            if not args:
                return "--format needs a value: text or json"
            fmt = args.pop(0)
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg.startswith("-") and arg != "-":
            return f"unknown option {arg!r}"
        else:
            names.append(arg)
    if fmt not in ("text", "json"):
        return f"--format must be text or json, not {fmt!r}"
    return fmt, names or [DEFAULT_NAME]


def check(names: Sequence[str], resolver: Resolver | None = None) -> list[LoadResult]:
    """Load each named file (looked up as ldirectord does); one result per name."""
    results = []
    for name in names:
        path = find_config(name) or Path(name)
        results.append(load(path, resolver=resolver))
    return results


def exit_status(results: Sequence[LoadResult]) -> int:
    if any(r.unreadable for r in results):
        return EXIT_UNREADABLE
    if any(r.errors for r in results):
        return EXIT_ERRORS
    return EXIT_OK


def render_text(results: Sequence[LoadResult]) -> str:
    lines = [d.text() for r in results for d in r.diagnostics]
    return "".join(line + "\n" for line in lines)


def render_json(results: Sequence[LoadResult]) -> str:
    doc = {
        "files": [
            {
                "path": r.path,
                "ok": not r.errors,
                "errors": len(r.errors),
                "warnings": len(r.warnings),
                "diagnostics": [d.as_dict() for d in r.diagnostics],
            }
            for r in results
        ],
        "exit": exit_status(results),
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _write(stream: TextIO, text: str) -> None:
    # Values may carry undecodable bytes (surrogate escapes); never fail on output.
    stream.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def main(argv: Sequence[str], resolver: Resolver | None = None) -> int:
    parsed = _parse_args(argv)
    if isinstance(parsed, str):
        sys.stderr.write(f"ldirectorpy --check: {parsed}\n{USAGE}")
        return EXIT_USAGE
    fmt, names = parsed
    results = check(names, resolver)
    if fmt == "json":
        _write(sys.stdout, render_json(results))
    else:
        _write(sys.stdout, render_text(results))
        errors = sum(len(r.errors) for r in results)
        warnings = sum(len(r.warnings) for r in results)
        summary = f"{len(results)} file(s) checked: {errors} error(s), {warnings} warning(s)\n"
        _write(sys.stderr, summary)
    return exit_status(results)
