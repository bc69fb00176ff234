"""Just enough DER to read a certificate's notAfter (the ssl module hides it
when the peer certificate is not verified, and we verify nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["cert_not_after"]

_SEQUENCE, _UTCTIME, _GENTIME, _EXPLICIT_0 = 0x30, 0x17, 0x18, 0xA0


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, vstart, vend = _tlv(data, start)
        out.append((tag, vstart, vend))
        start = vend
    return out


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == _UTCTIME:  # YYMMDDHHMMSSZ; RFC 5280: YY >= 50 means 19YY
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def cert_not_after(der: bytes) -> datetime:
    """notAfter of an X.509 certificate; ValueError if it cannot be found."""
    tag, start, end = _tlv(der, 0)
    if tag != _SEQUENCE:
        raise ValueError("certificate is not a SEQUENCE")
    tbs_tag, tbs_start, tbs_end = _children(der, start, end)[0]
    if tbs_tag != _SEQUENCE:
        raise ValueError("tbsCertificate is not a SEQUENCE")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == _EXPLICIT_0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity
    if len(fields) < 4 or fields[3][0] != _SEQUENCE:
        raise ValueError("no validity in certificate")
    times = _children(der, fields[3][1], fields[3][2])
    if len(times) != 2 or times[1][0] not in (_UTCTIME, _GENTIME):
        raise ValueError("bad validity in certificate")
    ttag, tstart, tend = times[1]
    return _time(ttag, der[tstart:tend])
