"""The log line (and e-mail subject) for each kernel write, in ldirectord's words.

Log watchers match these, so the wording is ldirectord's own:
`Added real server: RIP:RPORT (VIP:VPORT) (Weight set to W)`, `Restored ...`,
`Quiescent ... (Weight set to 0)`, `Readd Quiescent ...`, `Deleted ...`,
`Added fallback server: ...`, `Deleted fallback server: ...`,
`Purged real server (TAG): ...`, `Added virtual server: VIP:VPORT`,
`Changed virtual server: ...`, `Purged virtual server (TAG): ...`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ldirectorpy.director import VirtualSpec
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
)
from ldirectorpy.ipvs.types import AddressKey, Destination, DestKey, ServiceKey, Table


@dataclass(frozen=True, slots=True)
class Change:
    message: str
    service: ServiceKey
    dest: DestKey | None
    alert: bool


def virtual_str(key: ServiceKey) -> str:
    """ldirectord's get_virtual: `VIP:VPORT`, or the fwmark number."""
    if isinstance(key, AddressKey):
        host = f"[{key.address}]" if key.address.version == 6 else str(key.address)
        return f"{host}:{key.port}"
    return str(key.fwmark)


def describe(
    ops: Iterable[Op], virtuals: Iterable[VirtualSpec], actual: Table, purge_tag: str = "resync"
) -> list[Change]:
    specs: Mapping[ServiceKey, VirtualSpec] = {v.key: v for v in virtuals}
    out: list[Change] = []
    for op in ops:
        match op:
            case AddService(service=s):
                out.append(
                    Change(f"Added virtual server: {virtual_str(s.key)}", s.key, None, False)
                )
            case EditService(service=s):
                out.append(
                    Change(f"Changed virtual server: {virtual_str(s.key)}", s.key, None, False)
                )
            case DelService(key=k):
                out.append(
                    Change(f"Purged virtual server ({purge_tag}): {virtual_str(k)}", k, None, False)
                )
            case AddDest(service=k, dest=d) | EditDest(service=k, dest=d):
                before = actual.destinations.get(k, {}).get(d.key)
                out.append(_dest_change(k, d, before, specs.get(k), isinstance(op, AddDest)))
            case DelDest(service=k, dest=dk):
                spec = specs.get(k)
                where = f"{dk} ({virtual_str(k)})"
                if spec is not None and spec.fallback is not None and spec.fallback.key == dk:
                    out.append(Change(f"Deleted fallback server: {where}", k, dk, False))
                elif spec is not None and any(r.dest.key == dk for r in spec.reals):
                    out.append(Change(f"Deleted real server: {where}", k, dk, True))
                else:
                    out.append(Change(f"Purged real server ({purge_tag}): {where}", k, dk, True))
    return out


def _dest_change(
    key: ServiceKey,
    dest: Destination,
    before: Destination | None,
    spec: VirtualSpec | None,
    add: bool,
) -> Change:
    where = f"{dest.key} ({virtual_str(key)})"
    is_fallback = spec is not None and spec.fallback is not None and spec.fallback.key == dest.key
    tag = "fallback" if is_fallback else "real"
    if dest.weight == 0 and not is_fallback:
        verb = "Readd Quiescent" if add else "Quiescent"
        return Change(f"{verb} {tag} server: {where} (Weight set to 0)", key, dest.key, True)
    verb = "Added" if add or before is None else "Restored"
    return Change(
        f"{verb} {tag} server: {where} (Weight set to {dest.weight})",
        key,
        dest.key,
        not is_fallback,
    )
