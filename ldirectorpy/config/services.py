"""Every service name the system knows, for "did you mean" hints on port names.

Ports are looked up with getservbyname (resolve.SystemResolver). Python has no
getservent, so the names are listed through libc's setservent/getservent/
endservent: the same NSS sources ("services:" in /etc/nsswitch.conf) that
getservbyname searches, so every name offered as a hint is one the lookup accepts.
Only called when a port name was not found, never on the path of a valid file.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator

# getservent walks one process-wide cursor: two walks at once would interleave.
_LOCK = threading.Lock()


class _Servent(ctypes.Structure):
    """struct servent (netdb.h)."""

    _fields_ = (
        ("s_name", ctypes.c_char_p),
        ("s_aliases", ctypes.POINTER(ctypes.c_char_p)),
        ("s_port", ctypes.c_int),
        ("s_proto", ctypes.c_char_p),
    )


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the running process: libc's symbols are in it
        libc.getservent.restype = ctypes.POINTER(_Servent)
        libc.getservent.argtypes = ()
        libc.setservent.argtypes = (ctypes.c_int,)
        libc.endservent.argtypes = ()
    except (OSError, AttributeError):
        return None
    return libc


def _entries(libc: ctypes.CDLL) -> Iterator[tuple[str, str]]:
    """(name or alias, protocol) for every entry; the caller holds _LOCK."""
    libc.setservent(0)
    try:
        while ent := libc.getservent():
            proto = (ent.contents.s_proto or b"").decode("ascii", "replace")
            yield (ent.contents.s_name or b"").decode("ascii", "replace"), proto
            aliases = ent.contents.s_aliases
            i = 0
            while aliases and aliases[i] is not None:
                yield aliases[i].decode("ascii", "replace"), proto
                i += 1
    finally:
        libc.endservent()


def service_names(protocol: str | None) -> frozenset[str]:
    """Names and aliases of the services for `protocol` (None: tcp and udp).

    Empty when libc offers no getservent (then there is simply no hint)."""
    wanted = (protocol,) if protocol else ("tcp", "udp")
    libc = _libc()
    if libc is None:
        return frozenset()
    with _LOCK:
        return frozenset(name for name, proto in _entries(libc) if name and proto in wanted)
