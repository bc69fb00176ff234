"""The real-kernel rung itself: the guest has IPVS, every scheduler, and per-test namespaces."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pyroute2 import AsyncIPVS

Ipvsadm = Callable[..., str]
InNetns = Callable[..., str]
# Every scheduler of Debian 12's kernel (6.1); "twos" arrived in Linux 6.2.
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]


def test_runs_in_the_guest_kernel() -> None:
    assert os.environ.get("LDIRECTORPY_IN_GUEST") == "1"
    assert os.uname().release != "", "no kernel release"
    assert Path("/proc/net/ip_vs").exists(), "the guest kernel has no IPVS"


def test_ipvsadm_adds_and_lists_a_service(ipvsadm: Ipvsadm) -> None:
    ipvsadm("-A", "-t", "192.0.2.1:80", "-s", "rr")
    ipvsadm("-a", "-t", "192.0.2.1:80", "-r", "198.51.100.1:80", "-g", "-w", "3")
    listing = ipvsadm("-Ln")
    assert "TCP  192.0.2.1:80 rr" in listing
    assert "198.51.100.1:80" in listing


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_loads(ipvsadm: Ipvsadm, scheduler: str) -> None:
    ipvsadm("-A", "-u", "192.0.2.2:53", "-s", scheduler)
    assert f"UDP  192.0.2.2:53 {scheduler}" in ipvsadm("-Ln")


# The two tests below run in this order; the second proves the first's
# service did not follow it into its own fresh namespace.
def test_namespace_a_gets_a_service(ipvsadm: Ipvsadm) -> None:
    ipvsadm("-A", "-t", "203.0.113.9:443", "-s", "wlc")
    assert "203.0.113.9:443" in ipvsadm("-Ln")


def test_namespace_b_starts_empty(ipvsadm: Ipvsadm) -> None:
    assert "203.0.113.9" not in ipvsadm("-Ln")
    assert ipvsadm("-Sn") == ""


def test_a_sibling_namespace_has_its_own_table(
    netns: str, ipvsadm: Ipvsadm, namespaces: Callable[[str], str], in_netns: InNetns
) -> None:
    ipvsadm("-A", "-t", "192.0.2.3:25", "-s", "sh")
    assert "192.0.2.3:25" in in_netns(netns, "ipvsadm", "-Ln")
    sibling = namespaces("sibling")
    assert "192.0.2.3" not in in_netns(sibling, "ipvsadm", "-Ln")


async def test_pyroute2_dumps_the_services(ipvsadm: Ipvsadm) -> None:
    ipvsadm("-A", "-t", "198.51.100.7:3389", "-s", "wrr")
    ipvsadm("-A", "-f", "7", "-s", "lc")
    ipvs = AsyncIPVS()
    try:
        await ipvs.setup_endpoint()
        services = await ipvs.service("dump")
    finally:
        ipvs.close()
    names = [
        m.get_attr("IPVS_CMD_ATTR_SERVICE").get_attr("IPVS_SVC_ATTR_SCHED_NAME") for m in services
    ]
    assert sorted(names) == ["lc", "wrr"]
