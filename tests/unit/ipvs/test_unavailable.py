"""Error paths that need no IPVS: a kernel without it, a family no kernel has."""

from __future__ import annotations

import os

import pytest

from ldirectorpy.ipvs.errors import IPVSError, IPVSRequestError, IPVSUnavailable
from ldirectorpy.ipvs.netlink import NetlinkBackend
from ldirectorpy.ipvs.planner import AddService
from ldirectorpy.ipvs.types import AddressKey, Service

needs_no_ipvs = pytest.mark.skipif(
    os.path.exists("/proc/net/ip_vs"), reason="this kernel has IPVS (covered in tests/kernel)"
)


@needs_no_ipvs
async def test_a_kernel_without_ipvs_gives_one_clear_sentence() -> None:
    with pytest.raises(IPVSUnavailable) as caught:
        await NetlinkBackend.open()
    assert str(caught.value).startswith("the kernel has no IPVS: load the ip_vs module")
    assert isinstance(caught.value, IPVSError)


async def test_refusals_are_reported_and_mark_the_backend_dirty() -> None:
    """A family id no kernel has: every request is refused, and nothing raises from apply."""
    backend = NetlinkBackend(0x7FF0, timeout=5)
    try:
        report = await backend.apply([AddService(Service(AddressKey.of("tcp", "192.0.2.1", 80)))])
        assert len(report.errors) == 1 and report.writes == {"add_service": 1}
        assert backend.dirty
        with pytest.raises(IPVSRequestError):
            await backend.dump(set())
        assert backend.rcvbuf > 0
    finally:
        backend.close()
