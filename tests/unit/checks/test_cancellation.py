"""The engine cancels probes from outside (asyncio.timeout): nothing may leak."""

from __future__ import annotations

import asyncio
from pathlib import Path

from checks_loopback import open_fds, settled_fds, silent, tcp_server

from ldirectorpy.checks import external, rdp
from ldirectorpy.checks.target import Target


async def test_cancelled_rdp_probes_close_their_sockets() -> None:
    async with tcp_server(silent) as port:
        before = open_fds()
        target = Target("127.0.0.1", port)
        tasks = [asyncio.ensure_future(rdp.probe(target, 30.0)) for _ in range(50)]
        await asyncio.sleep(0.2)
        assert open_fds() > before  # they really are holding sockets
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(t.cancelled() for t in tasks)
        assert await settled_fds(before) == before


async def test_an_outer_timeout_kills_the_external_check_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    check = tmp_path / "hang"
    check.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 100\n")
    check.chmod(0o755)
    try:
        async with asyncio.timeout(0.3):
            await external.probe([str(check)], 30.0)
    except TimeoutError:
        pass
    pid = int(pidfile.read_text())
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        await asyncio.sleep(0.02)
    assert not Path(f"/proc/{pid}").exists()  # killed AND reaped
