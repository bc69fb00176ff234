"""Between our `Service` and the kernel's service record (flags word, timeout, netmask).

The kernel stores one flags word: PERSISTENT (with the timeout), HASHED (its own
bookkeeping, set on every service it holds), ONEPACKET and SCHED1/2/3. Both backends
go through these two functions so a read-back compares equal to what was written.
"""

from __future__ import annotations

import enum

from ldirectorpy.ipvs.types import SchedFlag, Service, ServiceKey


class SvcFlag(enum.IntFlag):
    """IP_VS_SVC_F_* from ip_vs.h."""

    PERSISTENT = 0x01
    HASHED = 0x02
    ONEPACKET = 0x04
    SCHED1 = 0x08
    SCHED2 = 0x10
    SCHED3 = 0x20


SCHED_MASK = SvcFlag.SCHED1 | SvcFlag.SCHED2 | SvcFlag.SCHED3


def service_flags(service: Service) -> tuple[int, int]:
    """(flags word, persistence timeout in seconds) to write for `service`."""
    flags = int(service.sched_flags)
    if service.one_packet:
        flags |= SvcFlag.ONEPACKET
    if service.persistence is not None:
        flags |= SvcFlag.PERSISTENT
    return flags, service.persistence or 0


def service_from_record(
    key: ServiceKey, scheduler: str, flags: int, timeout: int, netmask: int
) -> Service:
    """A `Service` from what the kernel holds; HASHED and unknown bits are dropped.

    A timeout without PERSISTENT means nothing to the kernel's scheduling, so it is
    not part of the value (ipvsadm shows no persistence either).
    """
    return Service(
        key=key,
        scheduler=scheduler,
        persistence=timeout if flags & SvcFlag.PERSISTENT else None,
        netmask=netmask,
        one_packet=bool(flags & SvcFlag.ONEPACKET),
        sched_flags=SchedFlag(flags & SCHED_MASK),
    )
