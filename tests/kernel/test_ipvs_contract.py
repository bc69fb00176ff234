"""NetlinkBackend passes the backend contract that MemoryBackend passes on the host.

The cases live in tests/unit/ipvs/ipvs_contract_cases.py; the kernel is the
reference, so a case failing here and passing there means the double is wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ipvs"))
from ipvs_contract_cases import CASES, Case

from ldirectorpy.ipvs.netlink import NetlinkBackend


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_netlink_backend_honours_the_contract(
    case: Case, netns: str, ipvsadm: Callable[..., str]
) -> None:
    # (lo is up in `netns`: IPv4 reals need it, see test_ipvs_netlink.py)
    backend = await NetlinkBackend.open(timeout=60)

    async def flush() -> None:
        ipvsadm("-C")

    try:
        await case(backend, flush)
    finally:
        backend.close()
