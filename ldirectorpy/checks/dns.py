"""service=dns: ask the real (as a name server on the check port) for ``request``.

As ldirectord: the query name is ``request`` without its leading ``/``; an IP
address becomes a PTR query; UDP, or TCP when the virtual's protocol is tcp;
up when an A address or PTR name in the answer matches ``receive``.
Differences, on purpose:

- AAAA counts too: a name with no A record is asked again for AAAA;
- an empty ``receive`` means "any address or PTR name in the answer" (in
  ldirectord an empty receive always failed, §5.4.7);
- the name is queried as written (absolute), without the resolv.conf search
  list Net::DNS's ``search`` applied, so the verdict does not depend on the
  director's own resolver settings;
- a truncated UDP answer is retried over TCP, as Net::DNS does; stray or
  malformed datagrams are ignored (the deadline speaks if nothing better
  comes), and an ICMP port unreachable is a down at once.

Needs dnspython (the ``[dns]`` extra); without it the probe is down and says so.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ldirectorpy.checks import _dgram
from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

if TYPE_CHECKING:
    import dns.message

__all__ = ["MISSING", "answers", "probe", "question"]

MISSING = "service=dns needs the [dns] extra: pip install ldirectorpy[dns]"


def question(request: str) -> tuple[str, str]:
    """(query name, type): ``/www.example.org`` -> A; ``/192.0.2.1`` -> its PTR name."""
    name = request.removeprefix("/")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return (name if name.endswith(".") else name + "."), "A"
    return address.reverse_pointer + ".", "PTR"


def answers(response: dns.message.Message) -> list[str]:
    """The A/AAAA addresses and PTR names in the answer section, as text."""
    import dns.rdatatype

    found: list[str] = []
    for rrset in response.answer:
        for rdata in rrset:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                found.append(str(rdata.address))
            elif rrset.rdtype == dns.rdatatype.PTR:
                found.append(rdata.target.to_text(omit_final_dot=True))
    return sorted(found)


def _is_answer(query: dns.message.Message) -> Callable[[bytes], bool]:
    """Accepts a well-formed response to ``query``; strays and garbage are ignored."""
    import dns.exception
    import dns.message

    def accept(wire: bytes) -> bool:
        try:
            return bool(query.is_response(dns.message.from_wire(wire, ignore_trailing=True)))
        except dns.exception.DNSException:
            return False

    return accept


async def _ask(name: str, rdtype: str, target: Target, tcp: bool) -> dns.message.Message:
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode

    query = dns.message.make_query(name, rdtype)
    try:
        if not tcp:
            # Our own datagram exchange: an ICMP port unreachable is "refused"
            # at once (dnspython's UDP would wait for the deadline).
            wire = await _dgram.exchange(target, query.to_wire(), _is_answer(query))
            response = dns.message.from_wire(wire, ignore_trailing=True)
        if tcp or response.flags & dns.flags.TC:  # truncated: ask again over TCP
            response = await dns.asyncquery.tcp(query, target.host, port=target.port)
    except dns.exception.DNSException as exc:
        raise ProbeFailure(f"bad DNS answer: {exc}") from None
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        raise ProbeFailure(f"{rdtype} {name} answered {dns.rcode.to_text(rcode)}")
    return response


async def _resolve(
    target: Target,
    request: str,
    receive: re.Pattern[bytes] | None,
    tcp: bool,
    progress: Progress,
) -> tuple[bool, str]:
    name, rdtype = question(request)
    progress.stage = f"DNS {rdtype} {name}"
    found = answers(await _ask(name, rdtype, target, tcp))
    if not found and rdtype == "A":
        rdtype = "AAAA"
        progress.stage = f"DNS AAAA {name}"
        found = answers(await _ask(name, rdtype, target, tcp))
    if not found:
        return False, f"{progress.stage}: no {'A/AAAA' if rdtype == 'AAAA' else rdtype} record"
    if receive is None:
        return True, f"{rdtype} {name} -> {', '.join(found[:4])}"
    for item in found:
        if receive.search(item.encode()):
            return True, f"{rdtype} {name} -> {item} matches receive"
    return False, (
        f"{rdtype} {name} -> {', '.join(found[:4])}: none matches receive "
        f"{receive.pattern.decode()!r}"
    )


async def probe(
    target: Target,
    timeout: float,
    *,
    request: str,
    receive: re.Pattern[bytes] | None = None,
    tcp: bool = False,
) -> ProbeResult:
    """Query the name server ``target`` within ``timeout`` seconds in total."""
    try:
        import dns.asyncquery  # noqa: F401
    except ImportError:
        return ProbeResult(False, MISSING, 0.0)
    return await bounded(
        timeout, lambda p: _resolve(target, request, receive, tcp, p), first_stage="DNS query"
    )
