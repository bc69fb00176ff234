"""The terminal-server farm end to end, in the real-kernel guest.

ldirectorpy is driven as heartbeat drives it (`ldirectorpy CONFIG start|status|
reload|stop`) in front of six xrdp terminal servers behind an LVS-DR director;
a client negotiates RDP (X.224 CR/CC) through VIP:3389, and the director's IPVS
connection table says which real server each connection reached. See farm.py.

Detection bound. The issue asks for checkinterval + negotiatetimeout + 0.5 s.
In the guest we allow SLACK on top: Python there runs 10-20x slower than on a
host and the host's CPUs are shared, so a probe round that is due can start late
and the reconcile's netlink write lands later; our own poll of /proc adds up to
50 ms. The measured latencies are printed (pytest -s) so the slack stays honest.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from farm import (
    ALL_UP,
    INTERVAL,
    NEGOTIATE,
    PORT,
    REALS,
    RESYNC,
    SETTLE,
    VIP,
    Farm,
    config_text,
    reloaded,
    sh,
    until,
)

SLACK = 2.0
BOUND = INTERVAL + NEGOTIATE + 0.5 + SLACK
# After `start` returns: long enough for every real's first probe and verdict.
START_WINDOW = 3 * (INTERVAL + NEGOTIATE)


def traffic(farm: Farm, count: int = 12) -> dict[str, int]:
    """`count` RDP negotiations through the VIP; every one must succeed.
    Returns real server -> connections it answered."""
    assert farm.client is not None
    spread: dict[str, int] = {}
    for attempt, real in farm.client.batch(count):
        assert attempt.ok, f"client connection failed: {attempt} (to {real})"
        assert real is not None, f"no IPVS connection entry for {attempt}"
        spread[real] = spread.get(real, 0) + 1
    return spread


def quiesced_within_bound(farm: Farm, victim: str, since: float) -> float:
    until(lambda: farm.weights().get(victim) == 0, BOUND + SETTLE, lambda: str(farm.weights()))
    took = time.monotonic() - since
    print(f"{victim} quiesced {took:.2f}s after the fault (bound {BOUND:.1f}s)")
    assert took <= BOUND, f"{victim} quiesced after {took:.2f}s, bound {BOUND:.1f}s"
    assert farm.weights() == {**ALL_UP, victim: 0}, "the others are untouched"
    return took


def test_heartbeat_sees_it_running_and_clients_reach_every_server(farm: Farm) -> None:
    status = farm.cli("status")
    assert status.returncode == 0
    first, *table = status.stdout.splitlines()
    assert first == f"ldirectorpy for {farm.config} is running with pid: {farm.pid()}"
    assert "running" in first  # what heartbeat's ResourceManager greps for
    assert f"{VIP}:{PORT}" in status.stdout and "6/6 up" in status.stdout
    assert all(any(real in line and "up" in line for line in table) for real in REALS)
    # wlc with equal weights: every server gets its share.
    assert set(traffic(farm, 12)) == set(REALS)


def test_a_killed_terminal_server_is_quiesced_then_restored(farm: Farm) -> None:
    victim = REALS[2]
    mark = farm.log_mark()
    farm.kill_server(victim)
    quiesced_within_bound(farm, victim, time.monotonic())
    spread = traffic(farm, 10)
    assert victim not in spread, "no new client connection reaches a quiesced server"
    # Recovery: the server comes back, its weight is restored, traffic returns.
    back = time.monotonic()
    farm.start_server(victim)
    until(lambda: farm.weights() == ALL_UP, BOUND + SETTLE, lambda: str(farm.weights()))
    print(f"{victim} restored {time.monotonic() - back:.2f}s after it came back")
    assert victim in traffic(farm, 12)
    log = farm.log_since(mark)
    assert f"Quiescent real server: {victim}:{PORT} ({VIP}:{PORT}) (Weight set to 0)" in log
    assert f"Restored real server: {victim}:{PORT} ({VIP}:{PORT}) (Weight set to 1)" in log


def test_a_host_gone_from_the_wire_is_quiesced(farm: Farm) -> None:
    victim = REALS[0]
    farm.link(victim, up=False)
    quiesced_within_bound(farm, victim, time.monotonic())
    assert victim not in traffic(farm, 10)


def test_a_server_that_accepts_but_never_answers_is_quiesced(farm: Farm) -> None:
    victim = REALS[3]
    farm.freeze(victim)  # SIGSTOP: connections are accepted by the kernel, never answered
    quiesced_within_bound(farm, victim, time.monotonic())
    assert victim not in traffic(farm, 10)
    farm.freeze(victim, frozen=False)
    until(lambda: farm.weights() == ALL_UP, BOUND + SETTLE, lambda: str(farm.weights()))


def test_a_server_that_answers_garbage_is_quiesced(farm: Farm) -> None:
    victim = REALS[4]
    farm.start_server(victim, "g")  # a server that answers well...
    until(lambda: farm.weights() == ALL_UP, BOUND + SETTLE, lambda: str(farm.weights()))
    spoiled = time.monotonic()
    farm.spoil(victim)  # ...until it answers HTTP to the X.224 request
    quiesced_within_bound(farm, victim, spoiled)
    assert victim not in traffic(farm, 10)
    status = farm.cli("status", "--json")
    assert status.returncode == 0
    assert "bad TPKT version byte 0x48" in status.stdout  # the reason is shown


def test_a_flapping_server_respects_failurecount_and_risecount(farm: Farm) -> None:
    steady, flapping = REALS[0], REALS[1]
    farm.write_config(config_text(farm.root, failurecount=2, risecount=2))
    mark = farm.log_mark()
    assert farm.cli("reload").returncode == 0
    reloaded(farm, mark)
    # "ggb" per probe never fails twice in a row: once up, never quiesced.
    # "bbggbg": two failures quiesce it; "gg" restores it, the lone "g" between
    # "b"s restores nothing. One cycle of six probes = one down, one up.
    farm.start_server(steady, "ggb")
    farm.start_server(flapping, "bbggbg")
    up_again = farm.log_mark()
    until(
        lambda: farm.weights()[steady] == farm.weights()[flapping] == 1,
        12 * BOUND,
        lambda: str(farm.weights()),
    )
    # The daemon logs a change once the kernel has acknowledged it: let the
    # log catch up with the weight just seen before counting from here.
    transition = rf"(Quiescent|Restored) real server: {flapping}:"
    until(
        lambda: re.findall(transition, farm.log_since(up_again))[-1:] in ([], ["Restored"]),
        BOUND,
        "the restore seen in the kernel logged",
    )
    mark = farm.log_mark()
    began = time.monotonic()
    seen_zero = False
    restored = rf"Restored real server: {flapping}:"
    while len(re.findall(restored, farm.log_since(mark))) < 2:
        assert time.monotonic() - began < 12 * BOUND, "two cycles of six probes"
        weights = farm.weights()
        assert weights[steady] == 1, "one failure in a row is below failurecount=2"
        seen_zero |= weights[flapping] == 0
        time.sleep(0.1)
    assert seen_zero
    log = farm.log_since(mark)
    assert f"Quiescent real server: {steady}:" not in log
    transitions = re.findall(transition, log)
    print(f"flapping server: {transitions}")
    # Down after "bb", up only after "gg", never on a lone "g" or "b".
    assert transitions == ["Quiescent", "Restored", "Quiescent", "Restored"]


def test_all_six_down_brings_in_the_fallback_and_runs_fallbackcommand(farm: Farm) -> None:
    marker = farm.root / "fallback.log"
    prior = marker.read_text() if marker.exists() else ""  # from the daemon's start-up
    for real in REALS:
        farm.kill_server(real)
    fallback = "127.0.0.1"
    until(
        lambda: farm.weights() == {**dict.fromkeys(REALS, 0), fallback: 1},
        BOUND + SETTLE,
        lambda: str(farm.weights()),
    )
    until(lambda: marker.exists() and marker.read_text() != prior, SETTLE, "fallbackcommand ran")
    assert marker.read_text() == prior + f"start {VIP}:{PORT} tcp\n"
    # Recovery: one server back is enough to retire the fallback.
    farm.start_server(REALS[5])
    until(
        lambda: farm.weights() == {**dict.fromkeys(REALS, 0), REALS[5]: 1},
        BOUND + SETTLE,
        lambda: str(farm.weights()),
    )
    stopped = prior + f"start {VIP}:{PORT} tcp\nstop {VIP}:{PORT} tcp\n"
    until(lambda: marker.read_text() == stopped, SETTLE, marker.read_text)
    assert set(traffic(farm, 4)) == {REALS[5]}


def test_reload_adds_and_removes_a_real_while_clients_keep_connecting(farm: Farm) -> None:
    assert farm.client is not None
    farm.client.start()
    try:
        farm.write_config(config_text(farm.root, REALS[:5]))
        assert farm.cli("reload").returncode == 0
        until(lambda: REALS[5] not in farm.weights(), SETTLE, lambda: str(farm.weights()))
        assert farm.weights() == dict.fromkeys(REALS[:5], 1)
        farm.write_config(config_text(farm.root))
        assert farm.cli("reload").returncode == 0
        until(lambda: farm.weights() == ALL_UP, SETTLE, lambda: str(farm.weights()))
        time.sleep(1)
    finally:
        attempts = farm.client.stop()
    assert len(attempts) >= 10
    failed = [(a, real) for a, real in attempts if not a.ok]
    assert not failed, f"{len(failed)}/{len(attempts)} client connections failed: {failed[:3]}"
    reached = {real for _, real in attempts}
    assert reached >= set(REALS[:5])


def test_a_broken_reload_keeps_the_daemon_and_the_table(farm: Farm) -> None:
    before = farm.table()
    pid = farm.pid()
    farm.write_config(config_text(farm.root) + "    weight = heavy\n")
    mark = farm.log_mark()
    assert farm.cli("reload").returncode == 0
    until(lambda: "Configuration not reloaded" in farm.log_since(mark), SETTLE, "error logged")
    status = farm.cli("status")
    assert status.returncode == 0 and farm.pid() == pid
    assert "NOT reloaded" in status.stdout and f"{farm.config}:" in status.stdout
    assert farm.table() == before
    assert set(traffic(farm, 6)) <= set(REALS)


def test_a_table_flushed_behind_our_back_is_repaired_within_one_resync(farm: Farm) -> None:
    sh("ipvsadm", "-C")
    flushed = time.monotonic()
    until(lambda: farm.weights() == ALL_UP, RESYNC + SLACK + 5, lambda: str(farm.weights()))
    print(f"repaired {time.monotonic() - flushed:.2f}s after the flush (resync {RESYNC}s)")
    assert set(traffic(farm, 6)) <= set(REALS)


def test_kill_9_then_start_enables_nothing_unproven_and_disturbs_no_healthy_real(
    farm: Farm,
) -> None:
    dead = REALS[1]
    farm.kill_server(dead)
    quiesced_within_bound(farm, dead, time.monotonic())
    os.kill(farm.pid(), signal.SIGKILL)
    until(lambda: not farm.running(), SETTLE, "daemon gone")
    dead_status = farm.cli("status")
    assert dead_status.returncode == 1  # a pid file with no daemon behind it
    assert "not running" in dead_status.stdout  # heartbeat: stopped, not "running"
    assert farm.weights() == {**ALL_UP, dead: 0}  # the kernel keeps serving
    with subprocess.Popen(
        [sys.executable, "-m", "ldirectorpy", str(farm.config), "start"],
        env=farm.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as start:
        # From the moment `start` runs until the daemon has probed everyone: the
        # dead server never gets a weight, the healthy ones are never touched.
        while start.poll() is None:
            assert farm.weights() == {**ALL_UP, dead: 0}
            time.sleep(0.05)
        _, err = start.communicate()
    assert start.returncode == 0, err
    returned = time.monotonic()
    while time.monotonic() - returned < START_WINDOW:
        assert farm.weights() == {**ALL_UP, dead: 0}
        time.sleep(0.05)
    assert farm.running()
    assert dead not in traffic(farm, 10)


def test_stop_as_heartbeat_does_removes_what_it_owns(farm: Farm) -> None:
    stopped = farm.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not farm.running()
    status = farm.cli("status")
    assert (status.returncode, status.stdout) == (3, f"ldirectorpy for {farm.config} is stopped\n")
    assert f"{VIP}:{PORT}" not in farm.table()  # cleanstop=yes
    assert farm.client is not None
    refused = [attempt for attempt, _ in farm.client.batch(2)]
    assert not any(attempt.ok for attempt in refused), "no virtual service, no terminal server"
