"""MemoryBackend passes the backend contract (the same cases run on the kernel)."""

from __future__ import annotations

import pytest
from ipvs_contract_cases import CASES, Case

from ldirectorpy.ipvs.memory import MemoryBackend


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_memory_backend_honours_the_contract(case: Case) -> None:
    backend = MemoryBackend()

    async def flush() -> None:
        backend.flush()

    await case(backend, flush)
