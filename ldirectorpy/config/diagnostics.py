"""Diagnostics: what the parser and the linter report, with stable codes.

Code scheme (stable; never reuse a retired code):
  E0xx  the file cannot be read at all          (`--check` exits 1)
  E1xx  syntax: lines, directive names, scopes  (exit 2)
  E2xx  values: numbers, choices, addresses     (exit 2)
  E3xx  semantics across lines                  (exit 2)
  W1xx  harmless syntax ldirectord rejects or misreads; we accept it
  W2xx  values that are accepted but questionable
  W3xx  semantics that are probably not what was meant
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Loc:
    """Where something was written: 1-based line and column."""

    path: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = None

    def text(self) -> str:
        """`path:line:col: severity: message [code]` plus an indented hint line."""
        out = f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message} [{self.code}]"
        if self.hint:
            out += f"\n    hint: {self.hint}"
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": str(self.severity),
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }

    def json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=True)


# Every code with its one-line meaning; the man page lists them from here.
CODES: dict[str, str] = {
    "E001": "the file cannot be opened or read (missing, permission, symlink loop)",
    "E002": "the path is not a regular file (a directory, a FIFO, a device)",
    "E003": "the file is too large to be a configuration",
    "E101": "unknown directive",
    "E102": "a line that is not `directive = value`",
    "E103": "a global-only directive inside a virtual section",
    "E104": "a virtual-only directive outside a virtual section",
    "E105": "a directive ldirectord retired (timeout, connecttimeout)",
    "E106": "binary data (NUL bytes): not a text file",
    "E107": "`virtual`/`virtual6` must start in column 0",
    "E108": "a directive without a value",
    "E201": "not a number",
    "E202": "a number out of its range",
    "E203": "a value that is not one of the accepted choices",
    "E204": "an invalid virtual service address",
    "E205": "a host name that does not resolve",
    "E206": "an invalid port or unknown service name",
    "E207": "a malformed real server line",
    "E208": "an invalid address range",
    "E209": "a malformed fallback server",
    "E210": "an address of the wrong family (IPv6 in virtual=, real6 in an IPv4 virtual...)",
    "E211": "an invalid netmask",
    "E212": "an invalid checktype",
    "E213": "a protocol that does not fit the virtual service",
    "E214": "an invalid emailalertstatus list",
    "E215": "an invalid TLS certificate fingerprint",
    "E216": "an unknown IPVS scheduler",
    "E217": "an unknown scheduler flag",
    "E218": "an empty quoted value where one is required",
    "E301": "a duplicate virtual service",
    "E302": "a duplicate real server in one virtual service",
    "E303": "a lower connection threshold above the upper one (or without one)",
    "E304": "an external check command that is missing or not executable",
    "E305": "a world-writable configuration file or directory (root runs its commands)",
    "W101": "CRLF line ends (ldirectord then rejects yes/no values)",
    "W102": "trailing whitespace after a value ldirectord compares exactly",
    "W103": "a trailing comment on a global line (ldirectord keeps it in the value)",
    "W104": "a blank line inside a virtual section (ldirectord ends the section there)",
    "W105": "a virtual section line indented by fewer than 4 columns",
    "W106": "a global line that does not start in column 0",
    "W107": "an unquoted value where ldirectord requires quotes",
    "W108": "bytes that are not valid UTF-8",
    "W109": "a bare `supervised` without `= yes`",
    "W110": "a directive repeated in the same scope (the last one wins)",
    "W111": "a '#' inside quotes in a virtual section (ldirectord cuts the line there)",
    "W112": "a UTF-8 byte order mark at the start of the file",
    "W113": "real= thresholds written u: before l: (ldirectord drops the u: value)",
    "W201": "text after a number, ignored as ldirectord does",
    "W202": "a deprecated directive",
    "W203": "the maintenance directory does not exist",
    "W204": "quotes around a value ldirectord passes on verbatim",
    "W301": "negotiate checks without a service (a fwmark, or an unknown port): never checked",
    "W302": "a check timeout longer than the check interval",
    "W303": "a virtual service without real servers",
    "W304": "a setting that has no effect here",
    "W305": "too many diagnostics; the rest are suppressed",
    "W306": "a callback that is not an executable file (it never runs)",
}

# Codes meaning "the file itself could not be read": `--check` exits 1 for them.
UNREADABLE_CODES = frozenset({"E001", "E002", "E003"})

MAX_DIAGNOSTICS = 1000


@dataclass(slots=True)
class Sink:
    """Collects diagnostics for one file; parsing goes on after each one.

    At most MAX_DIAGNOSTICS errors and MAX_DIAGNOSTICS entries in all are kept, so
    a flood of warnings can never hide an error.
    """

    path: str
    items: list[Diagnostic] = field(default_factory=list)
    _suppressed: int = 0
    _errors: int = 0  # all errors seen, kept or not

    def add(self, code: str, loc: Loc | None, message: str, hint: str | None = None) -> None:
        assert code in CODES, code
        error = code.startswith("E")
        self._errors += error
        kept_errors = min(self._errors - error, MAX_DIAGNOSTICS)
        if (error and kept_errors >= MAX_DIAGNOSTICS) or (
            not error and len(self.items) >= MAX_DIAGNOSTICS
        ):
            self._suppressed += 1
            return
        severity = Severity.ERROR if error else Severity.WARNING
        message, hint = _clean(message), _clean(hint) if hint else hint
        line, col = (loc.line, loc.col) if loc else (0, 0)
        path = loc.path if loc else self.path
        self.items.append(Diagnostic(severity, path, line, col, code, message, hint))

    def finish(self) -> tuple[Diagnostic, ...]:
        # dict.fromkeys: a global line can cause the same finding in every virtual
        unique = dict.fromkeys(self.items)
        items = sorted(unique, key=lambda d: (d.path, d.line, d.col, d.code))
        if self._suppressed:
            items.append(
                Diagnostic(
                    Severity.WARNING,
                    self.path,
                    0,
                    0,
                    "W305",
                    f"{self._suppressed} further diagnostics suppressed",
                )
            )
        return tuple(items)

    @property
    def full(self) -> bool:
        """No more errors will be kept: callers may skip costly hints."""
        return self._errors >= MAX_DIAGNOSTICS

    @property
    def has_errors(self) -> bool:
        return self._errors > 0


MAX_MESSAGE = 300


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return ascii(ch)[1:-1]


def _clean(text: str) -> str:
    """Messages quote user text: no terminal escapes, and not 1 MB long."""
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 3] + "..."
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def shown(text: str, limit: int = 60) -> str:
    """Quote user text for a message: printable, escaped, and not too long."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return ascii(text) if not text.isprintable() or not text.isascii() else f'"{text}"'
