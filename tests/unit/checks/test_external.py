"""checktype=external / external-perl: real programs, real process groups."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from ldirectorpy.checks import CheckSpec, Target, build_probe, external


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie awaiting its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def test_exit_0_is_up(tmp_path: Path) -> None:
    check = script(tmp_path, "ok", "exit 0\n")
    result = await external.probe([str(check)], 2.0)
    assert (result.ok, result.reason) == (True, f"{check} exit 0")


async def test_nonzero_exit_is_down_with_the_first_output_line(tmp_path: Path) -> None:
    check = script(tmp_path, "bad", "echo 'service says no'; echo more; exit 3\n")
    result = await external.probe([str(check)], 2.0)
    assert (result.ok, result.reason) == (False, f"{check} exit 3: service says no")


async def test_a_flood_of_output_does_not_block_the_check(tmp_path: Path) -> None:
    check = script(tmp_path, "chatty", "head -c 1000000 /dev/zero | tr '\\0' x; exit 0\n")
    result = await external.probe([str(check)], 5.0)
    assert result.ok
    assert len(result.reason) < 200


async def test_a_missing_program_is_down(tmp_path: Path) -> None:
    result = await external.probe([str(tmp_path / "nope")], 2.0)
    assert not result.ok
    assert result.reason == f"running {tmp_path / 'nope'}: no such file or directory"


async def test_arguments_are_ldirectords_four_with_ipv6_in_brackets(tmp_path: Path) -> None:
    out = tmp_path / "argv"
    check = script(tmp_path, "args", f'printf "%s\\n" "$@" > {out}\n')
    spec = CheckSpec(
        checktype="external",
        service="none",
        target=Target("2001:db8::5", 3389),
        checkcommand=str(check),
        virtual="[2001:db8::100]",
        virtual_port=3389,
        checktimeout=2.0,
    )
    probe = build_probe(spec)
    assert probe is not None
    assert (await probe()).ok
    assert out.read_text().splitlines() == ["[2001:db8::100]", "3389", "[2001:db8::5]", "3389"]


async def test_the_deadline_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The check starts a grandchild that ignores SIGTERM, then hangs itself.
    check = script(
        tmp_path,
        "hang",
        f"sh -c 'trap \"\" TERM; echo $$ > {pids}; exec sleep 100' &\nsleep 100\n",
    )
    start = time.monotonic()
    result = await external.probe([str(check)], 0.5)
    elapsed = time.monotonic() - start
    assert not result.ok
    assert result.reason == f"running {check}: no answer within 0.5s"
    assert elapsed < 0.5 + external.KILL_GRACE + 0.5
    grandchild = int(pids.read_text())
    for _ in range(50):  # init reaps the orphan asynchronously
        if gone(grandchild):
            break
        await asyncio.sleep(0.02)
    assert gone(grandchild)


async def test_the_semaphore_caps_checks_in_flight(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    # Fails if another instance holds the lock at the same time.
    check = script(tmp_path, "exclusive", f"mkdir {lock} || exit 9\nsleep 0.1\nrmdir {lock}\n")
    one_slot = asyncio.Semaphore(1)
    capped = await asyncio.gather(*(external.probe([str(check)], 3.0, one_slot) for _ in range(4)))
    assert all(r.ok for r in capped)
    uncapped = await asyncio.gather(*(external.probe([str(check)], 3.0) for _ in range(4)))
    assert not all(r.ok for r in uncapped)  # proves the check can detect overlap


async def test_waiting_for_a_slot_counts_against_the_deadline(tmp_path: Path) -> None:
    check = script(tmp_path, "slow", "sleep 0.4\n")
    slot = asyncio.Semaphore(1)
    first, second = await asyncio.gather(
        external.probe([str(check)], 1.0, slot), external.probe([str(check)], 0.2, slot)
    )
    assert first.ok
    assert second.reason == "waiting for a free external-check slot: no answer within 0.2s"


@pytest.mark.parametrize(("rip", "verdict"), [("127.0.0.1", True), ("127.0.0.2", False)])
async def test_external_perl_runs_the_file_with_perl(
    tmp_path: Path, rip: str, verdict: bool
) -> None:
    code = tmp_path / "check.pl"
    code.write_text('exit($ARGV[2] eq "127.0.0.1" ? 0 : 1);\n')  # not executable: perl runs it
    spec = CheckSpec(
        checktype="external-perl",
        service="none",
        target=Target(rip, 80),
        checkcommand=str(code),
        virtual="192.0.2.1",
        virtual_port=80,
    )
    probe = build_probe(spec)
    assert probe is not None
    assert (await probe()).ok is verdict


async def test_killed_by_a_signal_is_reported(tmp_path: Path) -> None:
    check = script(tmp_path, "suicide", "kill -KILL $$\n")
    result = await external.probe([str(check)], 2.0)
    assert (result.ok, result.reason) == (False, f"{check} killed by SIGKILL")


def test_no_leftover_children(tmp_path: Path) -> None:
    # Every test above reaped its children: none of our direct children remain.
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    assert children == []
