"""The text of `real=`, `fallback=` and `virtual=` values, split into parts (no lookups).

real = HOST[->HOST2][:PORT] gate|masq|ipip [WEIGHT] ["REQUEST", "RECEIVE"] [l:N] [u:N]
fallback = HOST[:PORT] [gate|masq|ipip]
virtual = IPv4:PORT | HOST:PORT | [IPv6]:PORT | FWMARK
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ldirectorpy.config.values import Invalid, did_you_mean

FORWARDS = ("gate", "masq", "ipip")
MAX_WEIGHT = 65535
MAX_THRESHOLD = 2**32 - 1

_HOST = r"(?:\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])"
_PORT = r"[A-Za-z0-9_-]+"
_REAL_HEAD = re.compile(rf"({_HOST})(?:->({_HOST}))?(?::({_PORT}))?(?:\s+|$)")
_WEIGHT = re.compile(r"(\d+)(?:\s+|$)")
_REQ_RECV = re.compile(r'"([^"]*)"(?:\s*,\s*|\s+)"([^"]*)"(?:\s+|$)')
_THRESHOLD = re.compile(r"([lu]):(\S*)(?:\s+|$)")


@dataclass(frozen=True, slots=True)
class RealSpec:
    host: str
    host2: str | None  # the end of an a->b range
    port: str | None
    forward: str
    weight: int
    request: str | None
    receive: str | None
    lower: int
    upper: int
    upper_first: bool = False  # u: written before l: (ldirectord drops the u: value)


def _threshold(word: str, text: str) -> int:
    if not text.isdigit():
        raise Invalid("E207", f"threshold '{word}:{text}' is not a number", f"write {word}:N")
    value = int(text)
    if value > MAX_THRESHOLD:
        raise Invalid(
            "E202", f"threshold {word}:{value} is out of range", f"use 0..{MAX_THRESHOLD}"
        )
    return value


def _forward(word: str) -> str:
    if word in FORWARDS:
        return word
    guess = did_you_mean(word, FORWARDS)
    raise Invalid(
        "E207",
        f"forwarding method '{word}' is not gate, masq or ipip",
        guess or "gate: direct routing, masq: NAT, ipip: tunnel",
    )


def parse_real(text: str) -> RealSpec:
    m = _REAL_HEAD.match(text)
    if not m:
        raise Invalid("E207", f"cannot read a server address in '{text}'", "write HOST[:PORT] gate")
    host, host2, port = m.group(1), m.group(2), m.group(3)
    rest = text[m.end() :]
    if not rest:
        raise Invalid("E207", "the forwarding method is missing", "add gate, masq or ipip")
    word = rest.split(maxsplit=1)[0]
    forward = _forward(word)
    rest = rest[len(word) :].lstrip()
    weight = 1
    if (w := _WEIGHT.match(rest)) is not None:
        weight = int(w.group(1))
        if weight > MAX_WEIGHT:
            raise Invalid("E202", f"weight {weight} is out of range", f"use 0..{MAX_WEIGHT}")
        rest = rest[w.end() :]
    request = receive = None
    if (q := _REQ_RECV.match(rest)) is not None:
        request, receive = q.group(1), q.group(2)
        if not request.startswith("/"):
            request = "/" + request
        rest = rest[q.end() :]
    elif rest.startswith('"'):
        raise Invalid(
            "E207",
            "a per-real request needs a receive string too",
            'write "REQUEST", "RECEIVE"',
        )
    lower = upper = 0
    seen: set[str] = set()
    upper_first = False
    while (t := _THRESHOLD.match(rest)) is not None and t.group(1) not in seen:
        upper_first = upper_first or (t.group(1) == "l" and "u" in seen)
        seen.add(t.group(1))
        value = _threshold(t.group(1), t.group(2))
        lower, upper = (value, upper) if t.group(1) == "l" else (lower, value)
        rest = rest[t.end() :]
    if rest.strip():
        raise Invalid(
            "E207",
            f"cannot read the real server line around '{rest.strip()[:40]}'",
            'the order is: HOST[:PORT] gate|masq|ipip [WEIGHT] ["REQ", "RECV"] [l:N] [u:N]',
        )
    return RealSpec(host, host2, port, forward, weight, request, receive, lower, upper, upper_first)


@dataclass(frozen=True, slots=True)
class FallbackSpec:
    host: str
    port: str | None
    forward: str


def parse_fallback(text: str) -> FallbackSpec:
    parts = text.split()
    if not parts or len(parts) > 2:
        raise Invalid(
            "E209", f"cannot read a fallback server in '{text}'", "write HOST[:PORT] [gate]"
        )
    try:
        forward = _forward(parts[1]) if len(parts) == 2 else "gate"
    except Invalid as bad:
        raise Invalid("E209", bad.message, bad.hint) from None
    m = re.fullmatch(rf"({_HOST})(?::({_PORT}))?", parts[0])
    if not m:
        raise Invalid("E209", f"cannot read a fallback server in '{parts[0]}'")
    return FallbackSpec(m.group(1), m.group(2), forward)


@dataclass(frozen=True, slots=True)
class VirtualSpec:
    host: str | None  # None for a fwmark
    port: str | None
    fwmark: int | None
    trailing: str  # ignored text after the address (ldirectord ignores it too)


_V4 = re.compile(rf"(\d+\.\d+\.\d+\.\d+):({_PORT})")
_NAME = re.compile(rf"([0-9A-Za-z._+-]+):({_PORT})")
_V6 = re.compile(rf"\[([0-9A-Fa-f:.]+)\]:({_PORT})")
_FWMARK = re.compile(r"(\d+)")


def parse_virtual(text: str, family: int) -> VirtualSpec:
    """ldirectord's order: IPv4:port, name:port, fwmark, [IPv6]:port."""
    for pattern in (_V4, _NAME, _FWMARK, _V6):
        m = pattern.match(text)
        if m is None:
            continue
        if pattern is _V4 and family == 6:
            continue
        if pattern is _V6 and family == 4:
            raise Invalid(
                "E210", "an IPv6 address on a virtual= line", "use virtual6 = [IPv6]:port"
            )
        if pattern is _FWMARK:
            rest = text[m.end() :]
            if rest and not rest[0].isspace():
                break  # ldirectord reads "192.0.2.1" as fwmark 192; we refuse to guess
            return VirtualSpec(None, None, int(m.group(1)), rest.strip())
        return VirtualSpec(m.group(1), m.group(2), None, text[m.end() :].strip())
    if ":" not in text:
        hint = "an address needs a port: ADDRESS:PORT, e.g. 192.0.2.10:80; or a fwmark number"
    else:
        hint = "write [IPv6]:PORT for virtual6" if family == 6 else "write ADDRESS:PORT"
    raise Invalid("E204", f"cannot read a virtual service address in '{text}'", hint)
