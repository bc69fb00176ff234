"""The ipvsadm listing reader the kernel tests rely on, on output captured from ipvsadm 1.31."""

from __future__ import annotations

from ipvsadm_listing import parse, persistent_conns

from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    SchedFlag,
    Service,
    Table,
)

LISTING = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.10:80 wrr (flag-1) persistent 300 mask 255.255.255.0
  -> 198.51.100.1:80              Route   3      0          0
  -> 198.51.100.2:8080            Masq    0      0          0
UDP  [2001:db8::1]:53 sh (sh-fallback,sh-port) persistent 60 mask 64 ops
  -> [2001:db8::2]:53             Tunnel  2      0          0
FWM  7 rr
  -> 198.51.100.3:0               Route   1      0          0
FWM  8 IPv6 mh
  -> [2001:db8::3]:0              Route   1      0          0
"""

THRESHOLDS = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
TCP  192.0.2.10:80 wrr (flag-1) persistent 300 mask 255.255.255.0
  -> 198.51.100.1:80              0          0          0          0
  -> 198.51.100.2:8080            10         2          0          0
"""

PERSISTENT = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn
  -> RemoteAddress:Port
TCP  192.0.2.10:80 wrr (flag-1) persistent 300 mask 255.255.255.0
  -> 198.51.100.1:80              3         0          0          0
"""

WEB = AddressKey.of("tcp", "192.0.2.10", 80)


def test_reads_every_attribute_ipvsadm_shows() -> None:
    dns = AddressKey.of("udp", "2001:db8::1", 53)
    assert parse(LISTING, THRESHOLDS) == Table.build(
        [
            (
                Service(WEB, "wrr", persistence=300, netmask=24, sched_flags=SchedFlag.SCHED1),
                [
                    Destination.of("198.51.100.1", 80, forward=Forward.ROUTE, weight=3),
                    Destination.of(
                        "198.51.100.2", 8080, forward=Forward.MASQ, weight=0, upper=10, lower=2
                    ),
                ],
            ),
            (
                Service(
                    dns,
                    "sh",
                    persistence=60,
                    netmask=64,
                    one_packet=True,
                    sched_flags=SchedFlag.SCHED1 | SchedFlag.SCHED2,
                ),
                [Destination.of("2001:db8::2", 53, forward=Forward.TUNNEL, weight=2)],
            ),
            (Service(FwmarkKey(Family.INET, 7), "rr"), [Destination.of("198.51.100.3", 0)]),
            (Service(FwmarkKey(Family.INET6, 8), "mh"), [Destination.of("2001:db8::3", 0)]),
        ],
        normalize=False,
    )


def test_reads_persistent_connection_counts() -> None:
    assert persistent_conns(PERSISTENT) == {(WEB, "198.51.100.1:80"): (3, 0)}
