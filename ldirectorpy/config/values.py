"""Value kinds: how one directive's text becomes a typed value.

Each kind is a small frozen dataclass with `parse(text, warn)` (raises `Invalid`)
and `describe()` (the accepted form, for hints and the man page). Kinds are pure:
host names and ports are left as text here and resolved later (resolve.py).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# warn(code, message, hint)
Warn = Callable[[str, str, "str | None"], None]


class Invalid(Exception):
    """A value that cannot be accepted; carries the diagnostic to report."""

    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


RUNNER_UP_MARGIN = 0.15  # a second guess much further off than the first is noise


def did_you_mean(word: str, choices: Sequence[str], n: int = 1) -> str | None:
    """The closest of `choices` as a hint, or None: difflib's ratio, at least 0.6.

    With n > 1, up to n guesses best first, each within RUNNER_UP_MARGIN of the best
    (the closest by spelling is not always the one meant: smpt is snmp or smtp)."""
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    if len(close) > 1:
        best = _similarity(word, close[0])
        close = [c for c in close if _similarity(word, c) >= best - RUNNER_UP_MARGIN]
    if not close:
        return None
    quoted = [f"'{c}'" for c in close]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"did you mean {listed}?"


def _similarity(word: str, choice: str) -> float:
    """The score get_close_matches ranks by (choice as the first sequence)."""
    return difflib.SequenceMatcher(None, choice, word).ratio()


def _choices_hint(word: str, choices: tuple[str, ...]) -> str:
    guess = did_you_mean(word, choices)
    listed = "accepted values: " + ", ".join(choices)
    return f"{guess} ({listed})" if guess else listed


_INT = re.compile(r"(\d+)")
_LEADING_INT = re.compile(r"(\d+)\s*(\S.*)?")
_LEADING_NUM = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(\S.*)?")


def _number(text: str, pattern: re.Pattern[str], warn: Warn) -> str:
    """The number at the start of `text`; ldirectord takes the first digit run."""
    m = pattern.fullmatch(text)
    if m:
        if m.group(2):
            warn(
                "W201",
                f"'{m.group(2)}' after the number is ignored",
                f"write just {m.group(1)}",
            )
        return m.group(1)
    loose = _INT.search(text)
    if loose:
        raise Invalid(
            "E201",
            f"'{text}' is not a number (ldirectord would read {loose.group(1)})",
            f"write {loose.group(1)} if that is what you mean",
        )
    raise Invalid("E201", f"'{text}' is not a number")


@dataclass(frozen=True, slots=True)
class Int:
    minimum: int = 0
    maximum: int | None = None

    def describe(self) -> str:
        if self.maximum is None:
            return f"an integer >= {self.minimum}"
        return f"an integer {self.minimum}..{self.maximum}"

    def parse(self, text: str, warn: Warn) -> int:
        value = int(_number(text, _LEADING_INT, warn))
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise Invalid("E202", f"{value} is out of range", f"use {self.describe()}")
        return value


@dataclass(frozen=True, slots=True)
class Seconds:
    """Seconds > 0; fractions allowed (ldirectord: whole seconds only)."""

    def describe(self) -> str:
        return "seconds > 0 (fractions allowed, e.g. 0.5)"

    def parse(self, text: str, warn: Warn) -> float:
        value = float(_number(text, _LEADING_NUM, warn))
        if value <= 0:
            raise Invalid("E202", f"{text} is out of range", f"use {self.describe()}")
        return value


@dataclass(frozen=True, slots=True)
class YesNo:
    def describe(self) -> str:
        return "yes or no"

    def parse(self, text: str, warn: Warn) -> bool:
        if text in ("yes", "no"):
            return text == "yes"
        hint = "write yes or no in lower case" if text.lower() in ("yes", "no") else None
        raise Invalid("E203", f"'{text}' is not yes or no", hint or "accepted values: yes, no")


@dataclass(frozen=True, slots=True)
class Choice:
    choices: tuple[str, ...]
    upper: bool = False  # httpmethod: case-insensitive, stored upper case

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)

    def parse(self, text: str, warn: Warn) -> str:
        word = text.upper() if self.upper else text
        if word in self.choices:
            return word
        raise Invalid("E203", f"'{text}' is not accepted", _choices_hint(word, self.choices))


@dataclass(frozen=True, slots=True)
class ChoiceList:
    """A comma-separated list of words from a fixed set (rdpprotocols)."""

    choices: tuple[str, ...]

    def describe(self) -> str:
        return "a comma-separated list of " + ", ".join(self.choices)

    def parse(self, text: str, warn: Warn) -> tuple[str, ...]:
        words = tuple(w.strip() for w in text.split(","))
        for w in words:
            if w not in self.choices:
                raise Invalid("E203", f"'{w}' is not accepted", _choices_hint(w, self.choices))
        return tuple(dict.fromkeys(words))


EMAIL_STATUSES = ("all", "none", "starting", "running", "stopping", "reloading")


@dataclass(frozen=True, slots=True)
class EmailStatus:
    def describe(self) -> str:
        return "a comma-separated list of " + ", ".join(EMAIL_STATUSES)

    def parse(self, text: str, warn: Warn) -> frozenset[str]:
        words = [w for w in re.split(r"\s*,\s*", text) if w]
        for w in words:
            if w not in EMAIL_STATUSES:
                raise Invalid(
                    "E214",
                    f"'{w}' is not an e-mail alert status",
                    _choices_hint(w, EMAIL_STATUSES),
                )
        if "none" in words and len(words) > 1:
            raise Invalid("E214", "'none' cannot be combined with other states")
        if "all" in words:
            return frozenset(EMAIL_STATUSES[2:])
        return frozenset(w for w in words if w != "none")


@dataclass(frozen=True, slots=True)
class Text:
    """Free text. `empty_ok` for values where "" means "off"."""

    empty_ok: bool = False
    what: str = "text"

    def describe(self) -> str:
        return self.what

    def parse(self, text: str, warn: Warn) -> str:
        if not text and not self.empty_ok:
            raise Invalid("E218", "the value is empty")
        return text


@dataclass(frozen=True, slots=True)
class Emails:
    def describe(self) -> str:
        return "e-mail addresses, separated by commas"

    def parse(self, text: str, warn: Warn) -> tuple[str, ...]:
        addrs = tuple(a.strip() for a in text.split(",") if a.strip())
        if not addrs:
            raise Invalid("E218", "no e-mail address given")
        return addrs


@dataclass(frozen=True, slots=True)
class Host:
    """A host name or address, without a port (smtp=)."""

    def describe(self) -> str:
        return "a host name or IP address"

    def parse(self, text: str, warn: Warn) -> str:
        m = re.match(r"[0-9A-Za-z._+-]+", text)
        if not m:
            raise Invalid("E203", f"'{text}' is not a host name or address")
        if m.end() != len(text):
            warn("W201", f"'{text[m.end() :]}' after the host is ignored", None)
        return m.group(0)


@dataclass(frozen=True, slots=True)
class Scheduler:
    def describe(self) -> str:
        return "an IPVS scheduler: " + ", ".join(SCHEDULERS)

    def parse(self, text: str, warn: Warn) -> str:
        if text in SCHEDULERS:
            return text
        raise Invalid("E216", f"unknown scheduler '{text}'", _choices_hint(text, SCHEDULERS))


SCHEDULERS = (
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
)  # fmt: skip
SCHEDFLAGS = ("sh-fallback", "sh-port", "mh-fallback", "mh-port", "flag-1", "flag-2", "flag-3")


@dataclass(frozen=True, slots=True)
class SchedFlags:
    def describe(self) -> str:
        return "a comma-separated list of " + ", ".join(SCHEDFLAGS)

    def parse(self, text: str, warn: Warn) -> tuple[str, ...]:
        words = tuple(w for w in text.split(",") if w)
        for w in words:
            if w not in SCHEDFLAGS:
                raise Invalid("E217", f"unknown scheduler flag '{w}'", _choices_hint(w, SCHEDFLAGS))
        if not words:
            raise Invalid("E218", "no scheduler flag given")
        return words


CHECKTYPES = ("connect", "negotiate", "ping", "external", "external-perl", "on", "off")


@dataclass(frozen=True, slots=True)
class CheckType:
    """A checktype word, or N for "negotiate, then N connect checks" (stored as 'N')."""

    def describe(self) -> str:
        return ", ".join(CHECKTYPES) + " or a number N >= 0"

    def parse(self, text: str, warn: Warn) -> str:
        if text in CHECKTYPES or text.isdigit():
            return str(int(text)) if text.isdigit() else text
        if _INT.search(text):
            raise Invalid(
                "E212",
                f"checktype '{text}' mixes words and digits (ldirectord reads any digit as N)",
                "write a plain number N for negotiate + N connect checks",
            )
        raise Invalid("E212", f"unknown checktype '{text}'", _choices_hint(text, CHECKTYPES))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    def describe(self) -> str:
        return "a SHA-256 fingerprint: 64 hex digits, colons optional"

    def parse(self, text: str, warn: Warn) -> str:
        digits = text.replace(":", "").lower()
        if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
            raise Invalid("E215", "not a SHA-256 fingerprint", f"use {self.describe()}")
        return digits


@dataclass(frozen=True, slots=True)
class Raw:
    """Text resolved later by the parser or resolve.py (virtual, real, fallback, netmask)."""

    what: str

    def describe(self) -> str:
        return self.what

    def parse(self, text: str, warn: Warn) -> str:
        if not text:
            raise Invalid("E108", "the value is missing")
        return text


@dataclass(frozen=True, slots=True)
class Removed:
    """A directive ldirectord retired: using it is an error naming the successor."""

    successor: str

    def describe(self) -> str:
        return f"removed; use {self.successor}"

    def parse(self, text: str, warn: Warn) -> None:
        raise Invalid("E105", f"this directive was retired in favour of {self.successor}")


Kind = (
    Int | Seconds | YesNo | Choice | ChoiceList | EmailStatus | Text | Emails | Host
    | Scheduler | SchedFlags | CheckType | Fingerprint | Raw | Removed
)  # fmt: skip
