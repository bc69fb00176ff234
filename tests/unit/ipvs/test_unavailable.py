"""On a kernel without IPVS (the development hosts), opening the backend says so plainly."""

from __future__ import annotations

import os

import pytest

from ldirectorpy.ipvs.errors import IPVSError, IPVSUnavailable
from ldirectorpy.ipvs.netlink import NetlinkBackend

needs_no_ipvs = pytest.mark.skipif(
    os.path.exists("/proc/net/ip_vs"), reason="this kernel has IPVS (covered in tests/kernel)"
)


@needs_no_ipvs
async def test_a_kernel_without_ipvs_gives_one_clear_sentence() -> None:
    with pytest.raises(IPVSUnavailable) as caught:
        await NetlinkBackend.open()
    assert str(caught.value).startswith("the kernel has no IPVS: load the ip_vs module")
    assert isinstance(caught.value, IPVSError)
