"""Lines of ldirectord.cf: indentation, `key = value`, comments, line ends.

ldirectord's rules (reference §1.1): a line starting in column 0 is global; a
virtual section's lines are indented (4+ spaces or a tab); `#` lines are skipped.
The lexer only records what it sees (indent, blank lines before, comment, CRLF,
trailing whitespace); the parser decides what ldirectord would have made of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_KEY_VALUE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*)[ \t]*(=?)[ \t]*")


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    indent: int  # columns of leading whitespace, a tab counting 4 (ldirectord's rule)
    key: str  # "" when the line does not start with a name
    key_col: int
    has_eq: bool
    value: str  # comment and surrounding whitespace removed, quotes kept
    value_col: int
    raw_rest: str  # the text after `=` as written (for messages)
    trailing_ws: bool  # whitespace before the end or before the comment
    comment: bool  # a `#` comment was removed
    hash_in_quotes: bool  # a `#` inside "...", which ldirectord's virtual lines cut
    crlf: bool
    blank_before: int  # the last blank line between it and the previous one, or 0


def _cut_comment(text: str, inside_virtual: bool) -> tuple[str, bool, bool]:
    """Split off a comment. Returns (value, had_comment, hash_in_quotes).

    A `#` outside double quotes starts a comment: anywhere in a virtual section
    (as ldirectord's `s/#.*//`), after whitespace on a global line.
    """
    if "#" not in text:
        return text, False, False
    quoted = False
    hash_in_quotes = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "#":
            if quoted:
                hash_in_quotes = True
            elif inside_virtual or i == 0 or text[i - 1] in " \t":
                return text[:i], True, hash_in_quotes
    return text, False, hash_in_quotes


def _indent(text: str) -> int:
    cols = 0
    for ch in text:
        if ch == " ":
            cols += 1
        elif ch == "\t":
            cols += 4
        else:
            break
    return cols


def lex(text: str) -> Iterator[Line]:
    """Significant lines; blank and comment-only lines are folded into `blank_before`."""
    blank = 0
    for number, physical in enumerate(text.split("\n"), start=1):
        crlf = physical.endswith("\r")
        raw = physical[:-1] if crlf else physical
        body = raw.lstrip(" \t")
        if not body.strip():
            blank = number
            continue
        if body.startswith("#"):
            continue  # comment lines never end a virtual section in ldirectord
        indent = _indent(raw)
        start = len(raw) - len(body)
        m = _KEY_VALUE.match(body)
        if m:
            key, has_eq, rest_at = m.group(1), bool(m.group(2)), start + m.end()
        else:
            key, has_eq, rest_at = "", False, start
        rest = raw[rest_at:]
        value, comment, hash_in_quotes = _cut_comment(rest, inside_virtual=indent > 0)
        stripped = value.rstrip()
        yield Line(
            number=number,
            indent=indent,
            key=key,
            key_col=start + 1,
            has_eq=has_eq,
            value=stripped,
            value_col=rest_at + 1,
            raw_rest=rest,
            trailing_ws=stripped != value,
            comment=comment,
            hash_in_quotes=hash_in_quotes,
            crlf=crlf,
            blank_before=blank,
        )
        blank = 0
