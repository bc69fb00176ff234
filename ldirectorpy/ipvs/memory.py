"""An in-memory IPVS backend with the kernel's answers, for unit tests of what drives it.

A test double: the proof is the kernel (tests/kernel). It keeps the raw record the
kernel keeps (flags word with HASHED, timeout, netmask) and answers like ip_vs_ctl.c:
EEXIST for an add of something present, ESRCH for any request on a missing service,
ENOENT for an edit or delete of a missing destination or an unknown scheduler,
ERANGE for a lower threshold above the upper one, EINVAL for a bad IPv6 prefix.
Each checked against Linux 6.1 by tests/kernel/test_ipvs_contract.py.
"""

from __future__ import annotations

import errno
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ldirectorpy.ipvs.backend import ApplyReport, ReportBuilder, describe
from ldirectorpy.ipvs.errors import IPVSRequestError, request_error
from ldirectorpy.ipvs.normalize import SvcFlag, service_flags, service_from_record
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
)
from ldirectorpy.ipvs.types import (
    SCHEDULERS,
    Destination,
    DestKey,
    Family,
    Service,
    ServiceKey,
    Table,
)


@dataclass(slots=True)
class _Record:
    scheduler: str
    flags: int
    timeout: int
    netmask: int
    dests: dict[DestKey, Destination] = field(default_factory=dict)


class MemoryBackend:
    """Implements `IPVSBackend`; `requests` counts every kernel call it stood in for."""

    def __init__(self, schedulers: Collection[str] = SCHEDULERS) -> None:
        self._services: dict[ServiceKey, _Record] = {}
        self._schedulers = frozenset(schedulers)
        self.requests = 0

    # -- the IPVSBackend protocol --------------------------------------------------

    async def dump(self, owned: Collection[ServiceKey]) -> Table:
        self.requests += 1  # the service dump
        entries = []
        for key, rec in self._services.items():
            if key in owned:
                self.requests += 1  # one destination dump per owned service
                entries.append((self._service(key, rec), list(rec.dests.values())))
        return Table.build(entries, normalize=False)

    async def apply(self, ops: Sequence[Op]) -> ApplyReport:
        report = ReportBuilder()
        for op in ops:
            retry = report.outcome(op, self._try(op))
            if retry is not None:
                report.outcome(retry, self._try(retry), planned=op)
        return report.report()

    # -- helpers for tests ---------------------------------------------------------

    @property
    def table(self) -> Table:
        """Everything held, owned or not."""
        return Table.build(
            ((self._service(k, r), list(r.dests.values())) for k, r in self._services.items()),
            normalize=False,
        )

    def flush(self) -> None:
        """What `ipvsadm -C` does."""
        self._services.clear()

    def raw_flags(self, key: ServiceKey) -> int:
        return self._services[key].flags

    # -- the kernel's semantics ----------------------------------------------------

    @staticmethod
    def _service(key: ServiceKey, rec: _Record) -> Service:
        return service_from_record(key, rec.scheduler, rec.flags, rec.timeout, rec.netmask)

    def _try(self, op: Op) -> IPVSRequestError | None:
        self.requests += 1
        try:
            self._do(op)
        except _Refused as refused:
            return request_error(refused.code, describe(op))
        return None

    def _do(self, op: Op) -> None:
        match op:
            case AddService(service=s):
                if s.key in self._services:
                    raise _Refused(errno.EEXIST)
                self._services[s.key] = self._record(s, _Record("", 0, 0, 0))
            case EditService(service=s):
                rec = self._find(s.key)
                self._services[s.key] = self._record(s, rec)
            case DelService(key=k):
                self._find(k)
                del self._services[k]
            case AddDest(service=k, dest=d):
                rec = self._find(k)
                d = self._check_dest(k, d)
                if d.key in rec.dests:
                    raise _Refused(errno.EEXIST)
                rec.dests[d.key] = d
            case EditDest(service=k, dest=d):
                rec = self._find(k)
                d = self._check_dest(k, d)
                if d.key not in rec.dests:
                    raise _Refused(errno.ENOENT)
                rec.dests[d.key] = d
            case DelDest(service=k, dest=dk):
                rec = self._find(k)
                if dk not in rec.dests:
                    raise _Refused(errno.ENOENT)
                del rec.dests[dk]

    def _find(self, key: ServiceKey) -> _Record:
        rec = self._services.get(key)
        if rec is None:
            raise _Refused(errno.ESRCH)
        return rec

    def _record(self, s: Service, old: _Record) -> _Record:
        if s.scheduler not in self._schedulers:
            raise _Refused(errno.ENOENT)
        assert s.netmask is not None
        if s.key.family is Family.INET6 and not 1 <= s.netmask <= 128:
            raise _Refused(errno.EINVAL)
        flags, timeout = service_flags(s)
        return _Record(s.scheduler, flags | SvcFlag.HASHED, timeout, s.netmask, old.dests)

    @staticmethod
    def _check_dest(key: ServiceKey, d: Destination) -> Destination:
        # Like the kernel, and unlike ipvsadm, the port of a DR or tunnel destination
        # is kept as given: `Table.build` applies ipvsadm's rule to desired tables.
        if d.lower > d.upper:
            raise _Refused(errno.ERANGE)
        return d


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        self.code = code
