"""The pure planner: (desired, actual, owned) -> the ordered writes that make actual desired.

Order: new services, changed services, new destinations, changed destinations, deleted
destinations, deleted services. Services come before their destinations (a destination
needs its service: ENOENT otherwise) and destinations go before services. Within a
group, ops are sorted by key so the plan is deterministic.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ldirectorpy.ipvs.types import Destination, DestKey, Service, ServiceKey, Table


@dataclass(frozen=True, slots=True)
class AddService:
    service: Service


@dataclass(frozen=True, slots=True)
class EditService:
    """Carries the whole desired service: a kernel SET overwrites every attribute."""

    service: Service


@dataclass(frozen=True, slots=True)
class DelService:
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: Destination


@dataclass(frozen=True, slots=True)
class EditDest:
    """Carries the whole desired destination: a kernel SET overwrites every attribute."""

    service: ServiceKey
    dest: Destination


@dataclass(frozen=True, slots=True)
class DelDest:
    service: ServiceKey
    dest: DestKey


Op = AddService | EditService | DelService | AddDest | EditDest | DelDest

# Rank of each kind in a plan.
OP_ORDER: tuple[type[Op], ...] = (AddService, EditService, AddDest, EditDest, DelDest, DelService)


def op_sort_key(op: Op) -> tuple[int, ...]:
    rank = OP_ORDER.index(type(op))
    match op:
        case AddService(service=s) | EditService(service=s):
            return (rank, *s.key.sort_key())
        case DelService(key=k):
            return (rank, *k.sort_key())
        case AddDest(service=k, dest=d) | EditDest(service=k, dest=d):
            return (rank, *k.sort_key(), -1, *d.key.sort_key())
        case DelDest(service=k, dest=dk):
            return (rank, *k.sort_key(), -1, *dk.sort_key())
    raise TypeError(op)  # pragma: no cover


def plan(desired: Table, actual: Table, owned: Collection[ServiceKey]) -> list[Op]:
    """The writes that turn `actual` into `desired` on the `owned` services; [] if equal.

    Services in `actual` that are not owned are never touched. Every desired service
    must be owned: a caller that forgets one has a bug, so this raises ValueError.
    """
    strays = [k for k in desired.services if k not in owned]
    if strays:
        raise ValueError(f"desired services not owned: {', '.join(map(str, strays))}")

    # Walking services and destinations in key order yields each group already
    # sorted (the order of `op_sort_key`), without sorting every op.
    add_svc: list[Op] = []
    edit_svc: list[Op] = []
    add_dst: list[Op] = []
    edit_dst: list[Op] = []
    del_dst: list[Op] = []
    for key in sorted(desired.services, key=_service_order):
        want = desired.services[key]
        have = actual.services.get(key)
        if have is None:
            add_svc.append(AddService(want))
        elif have != want:
            edit_svc.append(EditService(want))
        want_dests = desired.destinations.get(key, {})
        have_dests = actual.destinations.get(key, {}) if have is not None else {}
        if have_dests == want_dests:
            continue
        for dkey in sorted(want_dests, key=DestKey.sort_key):
            dest = want_dests[dkey]
            current = have_dests.get(dkey)
            if current is None:
                add_dst.append(AddDest(key, dest))
            elif current != dest:
                edit_dst.append(EditDest(key, dest))
        gone = [dkey for dkey in have_dests if dkey not in want_dests]
        del_dst.extend(DelDest(key, dkey) for dkey in sorted(gone, key=DestKey.sort_key))
    del_svc = [
        DelService(key)
        for key in sorted(actual.services, key=_service_order)
        if key in owned and key not in desired.services
    ]
    return add_svc + edit_svc + add_dst + edit_dst + del_dst + del_svc


def _service_order(key: ServiceKey) -> tuple[int, ...]:
    return key.sort_key()
