"""Parse ldirectord.cf text into raw sections, reporting every problem on the way.

The result still holds host names and port names as text; build.py resolves
them into the model. Compatibility warnings (W1xx) mark text ldirectord would
reject or misread but which has one obvious meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldirectorpy.config import values as k
from ldirectorpy.config.diagnostics import Loc, Sink, shown
from ldirectorpy.config.directives import BY_NAME, NAMES, OPENERS, STRUCTURAL, Directive, Quotes
from ldirectorpy.config.lexer import Line, lex
from ldirectorpy.config.model import Family


@dataclass(frozen=True, slots=True)
class Setting:
    value: object
    loc: Loc  # where the value starts


@dataclass(slots=True)
class RawVirtual:
    family: Family
    spec: str
    loc: Loc
    settings: dict[str, Setting] = field(default_factory=dict)
    reals: list[tuple[str, Loc, Family]] = field(default_factory=list)


@dataclass(slots=True)
class Parsed:
    path: str
    settings: dict[str, Setting] = field(default_factory=dict)
    virtuals: list[RawVirtual] = field(default_factory=list)


def parse_text(text: str, path: str, sink: Sink) -> Parsed:
    return _Parser(path, sink).run(text)


class _Parser:
    def __init__(self, path: str, sink: Sink) -> None:
        self.path = path
        self.sink = sink
        self.out = Parsed(path)
        self.current: RawVirtual | None = None
        self.crlf_reported = False
        self._loc_line = 0
        self._locs: dict[int, Loc] = {}

    def loc(self, line: Line, col: int) -> Loc:
        # a line asks for its key's and its value's place several times: share them
        if line.number != self._loc_line:
            self._loc_line, self._locs = line.number, {}
        loc = self._locs.get(col)
        if loc is None:
            loc = self._locs[col] = Loc(self.path, line.number, col)
        return loc

    def run(self, text: str) -> Parsed:
        for line in lex(text):
            if line.crlf and not self.crlf_reported:
                self.crlf_reported = True
                self.sink.add(
                    "W101",
                    self.loc(line, 1),
                    "the file has CRLF (DOS) line ends",
                    "convert with `sed -i 's/\\r$//' FILE`; ldirectord rejects yes/no values then",
                )
            self.line(line)
        return self.out

    def line(self, line: Line) -> None:
        at_key = self.loc(line, line.key_col)
        if line.indent == 0 or (line.key in OPENERS and self.current is None):
            self.current = None
            if line.key in OPENERS:
                if line.indent:
                    self.sink.add("E107", at_key, f"'{line.key}' must start in column 0")
                self.open_virtual(line)
                return
            self.setting(line, virtual=None)
            return
        if self.current is None:
            self.sink.add(
                "W106",
                at_key,
                "a global line that does not start in column 0",
                "ldirectord reports 'Unknown command' for it; remove the indentation",
            )
            self.setting(line, virtual=None)
            return
        if line.blank_before:
            self.sink.add(
                "W104",
                Loc(self.path, line.blank_before, 1),
                "blank line inside a virtual section",
                "ldirectord ends the section at a blank line; use a '#' line instead",
            )
        if line.indent < 4:
            self.sink.add(
                "W105",
                self.loc(line, 1),
                f"indented by {line.indent} columns; ldirectord needs 4 or a tab",
            )
        if line.key in OPENERS:
            self.sink.add("E107", at_key, f"'{line.key}' must start in column 0")
            self.open_virtual(line)
            return
        self.setting(line, virtual=self.current)

    def open_virtual(self, line: Line) -> None:
        family: Family = 6 if line.key == "virtual6" else 4
        loc = self.loc(line, line.value_col)
        if not line.has_eq or not line.value:
            self.sink.add("E108", loc, f"'{line.key}' needs an address and port, or a fwmark")
        raw = RawVirtual(family, line.value, loc)
        self.out.virtuals.append(raw)
        self.current = raw

    def setting(self, line: Line, virtual: RawVirtual | None) -> None:
        at_key = self.loc(line, line.key_col)
        d = BY_NAME.get(line.key)
        if d is None:
            self.unknown(line, at_key)
            return
        if virtual is None and not d.scope.in_global:
            self.sink.add(
                "E104",
                at_key,
                f"'{d.name}' is only valid inside a virtual section",
                "indent it under a virtual= line",
            )
            return
        if virtual is not None and not d.scope.in_virtual:
            self.sink.add(
                "E103",
                at_key,
                f"'{d.name}' is a global directive; it cannot be set inside a virtual section",
                "move it to column 0, before the first virtual= line",
            )
            return
        if not line.has_eq:
            if d.name == "supervised" and not line.value:
                self.sink.add("W109", at_key, "a bare 'supervised'", "write 'supervised = yes'")
                self.store(d, Setting(True, at_key), virtual, line)
                return
            self.sink.add("E102", at_key, f"expected '{d.name} = value'")
            return
        text = self.unquote(d, line)
        if text is None:
            return
        if d.name in ("real", "real6"):
            self.real(d, line, text, virtual)
            return
        if d.name in ("fallback6", "fallback") and virtual is not None:  # noqa: SIM102
            if (d.name == "fallback6") != (virtual.family == 6):
                self.sink.add(
                    "E210",
                    at_key,
                    f"'{d.name}' in an IPv{virtual.family} virtual section",
                    f"use {'fallback6' if virtual.family == 6 else 'fallback'}",
                )
                return
        at_value = self.loc(line, line.value_col)
        # values ldirectord compares exactly (eq "yes", or an anchored netmask pattern)
        exact = isinstance(d.kind, k.YesNo) or d.name == "netmask"
        if exact and (line.trailing_ws or line.crlf) and not virtual_global_comment(line):
            self.sink.add(
                "W102",
                at_value,
                f"text after '{text}' (whitespace, a comment or CR)",
                "ldirectord rejects this value; end the line right after it",
            )
        if line.hash_in_quotes and virtual is not None:
            self.sink.add(
                "W111",
                at_value,
                "'#' inside quotes",
                "ldirectord cuts a virtual section line at any '#'",
            )

        def warn(code: str, message: str, hint: str | None) -> None:
            self.sink.add(code, at_value, message, hint)

        try:
            value = d.kind.parse(text, warn)
        except k.Invalid as bad:
            self.sink.add(bad.code, at_value, f"{d.name}: {bad.message}", bad.hint)
            return
        if d.deprecated:
            self.sink.add("W202", at_key, d.deprecated)
        self.store(d, Setting(value, at_value), virtual, line)

    def unquote(self, d: Directive, line: Line) -> str | None:
        """The value with its quotes handled as ldirectord handles them for `d`."""
        text = line.value
        if d.name in STRUCTURAL:
            return text  # real= keeps its own quotes (per-real request/receive)
        at_value = self.loc(line, line.value_col)
        quoted = text.startswith('"')
        # ldirectord reads numbers by their first digit run, and its `"(.*)"` for the
        # quoted-only directives ends at the last quote: both shrug off a comment.
        harmless = isinstance(d.kind, k.Int | k.Seconds) or (quoted and d.quotes is Quotes.REQUIRED)
        if virtual_global_comment(line) and not harmless:
            self.sink.add(
                "W103",
                at_value,
                "a trailing comment on a global line",
                "ldirectord keeps the comment in the value (or rejects it); put it on its own line",
            )
        if d.quotes is Quotes.VERBATIM:
            if quoted:
                self.sink.add(
                    "W204",
                    at_value,
                    f"the quotes are part of the {d.name} value",
                    "ldirectord passes them on verbatim; remove them unless you want them",
                )
            return text
        if quoted:
            end = text.rfind('"')
            if end == 0:
                if d.quotes is Quotes.REQUIRED:
                    self.sink.add("E102", at_value, f"{d.name}: unterminated quote")
                    return None
                return text
            if text[end + 1 :].strip():
                self.sink.add(
                    "W201", at_value, f"{d.name}: {shown(text[end + 1 :])} after the quotes ignored"
                )
            return text[1:end]
        if d.quotes is Quotes.REQUIRED and text:
            self.sink.add(
                "W107",
                at_value,
                f"ldirectord requires quotes around the {d.name} value",
                f'write {d.name} = "{text}"',
            )
        return text

    def real(self, d: Directive, line: Line, text: str, virtual: RawVirtual | None) -> None:
        assert virtual is not None  # scope checked by the caller
        family: Family = 6 if d.name == "real6" else 4
        at_key = self.loc(line, line.key_col)
        if family != virtual.family:
            want = "real6" if virtual.family == 6 else "real"
            self.sink.add(
                "E210",
                at_key,
                f"'{d.name}' in an IPv{virtual.family} virtual section",
                f"use {want}",
            )
            return
        if not text:
            self.sink.add("E108", at_key, f"'{d.name}' without a value")
            return
        virtual.reals.append((text, self.loc(line, line.value_col), family))

    def store(self, d: Directive, s: Setting, virtual: RawVirtual | None, line: Line) -> None:
        target = self.out.settings if virtual is None else virtual.settings
        old = target.get(d.name)
        if d.repeat:
            before = old.value if old is not None and isinstance(old.value, tuple) else ()
            target[d.name] = Setting((*before, s.value), old.loc if old else s.loc)
            return
        if old is not None:
            self.sink.add(
                "W110",
                self.loc(line, line.key_col),
                f"'{d.name}' is set again (first at line {old.loc.line}); this one wins",
            )
        target[d.name] = s

    def unknown(self, line: Line, at_key: Loc) -> None:
        if not line.key:
            self.sink.add(
                "E102",
                at_key,
                f"expected 'directive = value', found {shown(line.raw_rest.strip())}",
            )
            return
        hint = None if self.sink.full else k.did_you_mean(line.key, NAMES)
        if line.key.lower() in NAMES:
            hint = f"directives are lower case: '{line.key.lower()}'"
        self.sink.add("E101", at_key, f"unknown directive {shown(line.key)}", hint)


def virtual_global_comment(line: Line) -> bool:
    """A comment ldirectord does not strip: one on a global (column 0) line."""
    return line.comment and line.indent == 0
