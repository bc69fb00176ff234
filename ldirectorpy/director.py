"""The desired IPVS table, from the configuration, health verdicts and the kernel.

Pure: `desired_table` is a function of its arguments; the daemon owns the state
it passes in. ldirectord's semantics (reference §3), and where we differ:

- An UP real is present at its configured weight, forwarding method and thresholds.
- A DOWN real: with `quiescent=yes` present at weight 0; with `quiescent=no`
  absent. A quiesced real that someone deleted by hand stays deleted unless
  `readdquiescent=yes` (ldirectord PR #125); one we never programmed yet is
  added at weight 0 (ldirectord's start-up ends in the same state, after
  first adding it at full weight: we skip that transient, §5.4 item 2).
- Before its first verdict (UNKNOWN) a real that is already in the kernel with
  weight > 0 is adopted as up, so a restart disturbs nothing; any other real
  gets no traffic before a successful probe.
- `checktype=off` freezes a real: whatever the kernel holds for it stays.
- The fallback server is present, at weight 1, exactly while no real of its
  virtual is up and none is still waiting for its first verdict (ldirectord
  adds it for a moment at every start); it is always deleted, never quiesced.
- Everything else the kernel holds under an owned service (reals not in the
  configuration) is removed: the planner deletes what is not desired.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from ldirectorpy.config.model import Config, Fallback, Protocol, Real, Virtual
from ldirectorpy.healthstate import Mode, State
from ldirectorpy.ipvs.types import (
    FORWARD_BY_NAME,
    AddressKey,
    Destination,
    DestKey,
    Family,
    FwmarkKey,
    Service,
    ServiceKey,
    Table,
    ip,
    netmask_prefix,
    normalize_destination,
    parse_sched_flags,
)

PairId = tuple[ServiceKey, DestKey]
FALLBACK_WEIGHT = 1


@dataclass(frozen=True, slots=True)
class RealSpec:
    pair: PairId
    dest: Destination  # as the kernel will hold it when up (normalised)
    mode: Mode
    real: Real


@dataclass(frozen=True, slots=True)
class VirtualSpec:
    service: Service
    reals: tuple[RealSpec, ...]
    quiescent: bool
    fallback: Destination | None
    virtual: Virtual

    @property
    def key(self) -> ServiceKey:
        return self.service.key


def service_key(virtual: Virtual) -> ServiceKey:
    family = Family.INET if virtual.family == 4 else Family.INET6
    if virtual.fwmark is not None:
        return FwmarkKey(family, virtual.fwmark)
    assert virtual.address is not None
    return AddressKey.of(str(virtual.protocol), virtual.address, virtual.port)


def service_of(virtual: Virtual) -> Service:
    """ldirectord's `ipvsadm -A` flags as a Service (-M only with -p, -o only for UDP)."""
    persistent = virtual.persistent
    netmask = netmask_prefix(virtual.netmask) if persistent and virtual.netmask else None
    flags = parse_sched_flags(",".join(virtual.schedflags or ()))
    return Service(
        key=service_key(virtual),
        scheduler=virtual.scheduler,
        persistence=persistent,
        netmask=netmask,
        one_packet=virtual.ops and virtual.protocol is Protocol.UDP,
        sched_flags=flags,
    )


def destination_of(virtual: Virtual, real: Real, key: ServiceKey | None = None) -> Destination:
    """A real as the kernel holds it when up; port 0 means the virtual's port."""
    dest = Destination(
        address=ip(real.address),
        port=real.port or virtual.port,
        forward=FORWARD_BY_NAME[str(real.forward)],
        weight=real.weight,
        upper=real.upper,
        lower=real.lower,
    )
    return normalize_destination(key if key is not None else service_key(virtual), dest)


def fallback_of(virtual: Virtual, fallback: Fallback | None) -> Destination | None:
    if fallback is None:
        return None
    dest = Destination(
        address=ip(fallback.address),
        port=fallback.port if fallback.port is not None else virtual.port,
        forward=FORWARD_BY_NAME[str(fallback.forward)],
        weight=FALLBACK_WEIGHT,
    )
    return normalize_destination(service_key(virtual), dest)


def mode_of(virtual: Virtual) -> Mode:
    if virtual.checktype == "off":
        return Mode.OFF
    if virtual.checktype == "on":
        return Mode.ON
    return Mode.PROBE


def specs(config: Config) -> tuple[VirtualSpec, ...]:
    out = []
    for virtual in config.virtuals:
        service = service_of(virtual)
        reals: dict[DestKey, RealSpec] = {}
        for real in virtual.reals:
            dest = destination_of(virtual, real, service.key)
            # Two config lines naming one kernel entry: the first wins (--check warns).
            reals.setdefault(
                dest.key, RealSpec((service.key, dest.key), dest, mode_of(virtual), real)
            )
        out.append(
            VirtualSpec(
                service,
                tuple(reals.values()),
                virtual.quiescent,
                fallback_of(virtual, virtual.fallback),
                virtual,
            )
        )
    return tuple(out)


def is_up(spec: RealSpec, health: Mapping[PairId, State], adopted: Collection[PairId]) -> bool:
    state = health.get(spec.pair, State.UNKNOWN)
    if state is State.UNKNOWN:
        return spec.pair in adopted
    return state.up


def desired_virtual(
    spec: VirtualSpec,
    health: Mapping[PairId, State],
    actual: Mapping[DestKey, Destination],
    *,
    adopted: Collection[PairId],
    programmed: Collection[PairId],
    readdquiescent: bool,
) -> tuple[Destination, ...]:
    """The destinations one virtual service should hold now."""
    dests: list[Destination] = []
    any_up = pending = False
    for real in spec.reals:
        present = actual.get(real.dest.key)
        if real.mode is Mode.OFF:
            if present is not None:
                dests.append(present)
                any_up = any_up or present.weight > 0
            continue
        if is_up(real, health, adopted):
            dests.append(real.dest)
            any_up = True
        elif health.get(real.pair, State.UNKNOWN) is State.UNKNOWN:
            pending = True
            if spec.quiescent:
                dests.append(replace(real.dest, weight=0))
            continue
        elif spec.quiescent and (
            present is not None or readdquiescent or real.pair not in programmed
        ):
            dests.append(replace(real.dest, weight=0))
    # The fallback waits for every real's first verdict: no start-up flicker.
    if (
        spec.fallback is not None
        and not (any_up or pending)
        and spec.fallback.key not in _keys(dests)
    ):
        dests.append(spec.fallback)
    return tuple(dests)


def _keys(dests: list[Destination]) -> set[DestKey]:
    return {d.key for d in dests}


def desired_table(
    virtuals: tuple[VirtualSpec, ...],
    health: Mapping[PairId, State],
    actual: Table,
    *,
    adopted: Collection[PairId] = frozenset(),
    programmed: Collection[PairId] = frozenset(),
    readdquiescent: bool = False,
) -> Table:
    entries = []
    for spec in virtuals:
        present = actual.destinations.get(spec.key, {})
        dests = desired_virtual(
            spec,
            health,
            present,
            adopted=adopted,
            programmed=programmed,
            readdquiescent=readdquiescent,
        )
        entries.append((spec.service, dests))
    return Table.build(entries)


def adoptable(virtuals: tuple[VirtualSpec, ...], actual: Table) -> frozenset[PairId]:
    """Reals already in the kernel with weight > 0: up until their first verdict."""
    out = set()
    for spec in virtuals:
        present = actual.destinations.get(spec.key, {})
        for real in spec.reals:
            dest = present.get(real.dest.key)
            if dest is not None and dest.weight > 0:
                out.add(real.pair)
    return frozenset(out)
