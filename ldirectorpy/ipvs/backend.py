"""The seam between the planner and a kernel: a backend dumps a `Table` and applies ops.

Kept as small as an httpx transport. `MemoryBackend` (tests) and `NetlinkBackend` (the
kernel) implement it and pass the same contract tests.

Idempotency, shared by every backend (keepalived's conventions):
- EEXIST on an add and ENOENT on a delete mean the table already says so: done.
- ENOENT on an edit means someone deleted the entry: add it instead. A failure of
  that add is reported as a failure of the edit (the op the caller planned), with
  the add it was retried as named beside it.
- Any other refusal is recorded in the report, the rest of the ops still run, and the
  caller reconciles again from a fresh dump.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from ldirectorpy.ipvs.errors import AlreadyExists, IPVSRequestError, NotFound
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
)
from ldirectorpy.ipvs.types import ServiceKey, Table

# Report counters, by the kind of write sent.
KINDS = ("add_service", "edit_service", "del_service", "add_dest", "edit_dest", "del_dest")


def kind(op: Op) -> str:
    match op:
        case AddService():
            return "add_service"
        case EditService():
            return "edit_service"
        case DelService():
            return "del_service"
        case AddDest():
            return "add_dest"
        case EditDest():
            return "edit_dest"
        case DelDest():
            return "del_dest"
    raise TypeError(op)  # pragma: no cover


@dataclass(frozen=True, slots=True)
class OpFailure:
    """A refused op, named as the caller planned it (one of the ops given to `apply`).

    `retried_as` is the op that was actually refused when it differs: the add an
    edit became after ENOENT. `error` is always the refusal of the op last sent.
    """

    op: Op
    error: IPVSRequestError
    retried_as: Op | None = None

    def __str__(self) -> str:
        """`EditDest TCP 192.0.2.1:80 -> 198.51.100.7:80: not found, retried as
        AddDest: No such process`, or without the middle part when no retry ran."""
        reason = os.strerror(self.error.errno)
        if self.retried_as is None:
            return f"{describe(self.op)}: {reason}"
        return (
            f"{describe(self.op)}: not found, retried as {type(self.retried_as).__name__}: {reason}"
        )


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """What an `apply` did: kernel writes sent, by kind, and the ops that failed."""

    writes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    errors: tuple[OpFailure, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.writes.values())

    @property
    def ok(self) -> bool:
        return not self.errors


class IPVSBackend(Protocol):
    async def dump(self, owned: Collection[ServiceKey]) -> Table:
        """The owned services present in the kernel, with their destinations."""
        ...

    async def apply(self, ops: Sequence[Op]) -> ApplyReport:
        """Send `ops` in order; never raises for a refused op (see `ApplyReport.errors`)."""
        ...


def fallback(op: Op) -> Op | None:
    """The op to send when `op` met ENOENT: an edit of a vanished entry becomes an add."""
    match op:
        case EditService(service=s):
            return AddService(s)
        case EditDest(service=k, dest=d):
            return AddDest(k, d)
    return None


class ReportBuilder:
    """Folds per-op outcomes into an `ApplyReport` with the shared idempotency rules."""

    def __init__(self) -> None:
        self.writes: Counter[str] = Counter()
        self.errors: list[OpFailure] = []

    def outcome(
        self, op: Op, error: IPVSRequestError | None, planned: Op | None = None
    ) -> Op | None:
        """Record one sent op; returns a fallback op to send, if any.

        `planned` is the caller's op when `op` is a fallback returned here before:
        a failure is then recorded against it. Send the fallback, then pass its
        outcome with `planned` set.
        """
        self.writes[kind(op)] += 1
        if error is None:
            return None
        if isinstance(error, AlreadyExists) and isinstance(op, AddService | AddDest):
            return None
        if isinstance(error, NotFound):
            if isinstance(op, DelService | DelDest):
                return None
            retry = fallback(op)
            if retry is not None:
                return retry
        if planned is None or planned is op:
            self.errors.append(OpFailure(op, error))
        else:
            self.errors.append(OpFailure(planned, error, retried_as=op))
        return None

    def report(self) -> ApplyReport:
        writes = {k: self.writes[k] for k in KINDS if self.writes[k]}
        return ApplyReport(MappingProxyType(writes), tuple(self.errors))


def describe(op: Op) -> str:
    """`AddDest TCP 192.0.2.1:80 -> 198.51.100.7:80`, for errors and logs."""
    match op:
        case AddService(service=s) | EditService(service=s):
            subject = str(s.key)
        case DelService(key=k):
            subject = str(k)
        case AddDest(service=k, dest=d) | EditDest(service=k, dest=d):
            subject = f"{k} -> {d.key}"
        case DelDest(service=k, dest=dk):
            subject = f"{k} -> {dk}"
    return f"{type(op).__name__} {subject}"
