"""Failure-detection latency of ldirectorpy, ldirectord and keepalived, in the guest.

    scripts/guest/run --smp 2 --timeout 3600 -- .venv/bin/python benchmarks/failover_latency.py \\
        [--sizes 6,200] [--failures 20] [--cpu-window 40] [--budget 240]
        [--daemons ldirectorpy,ldirectorpy-connect,ldirectord,keepalived,python-floor]

(--smp 2: the measuring poller, the responders and the daemon do not all share
one emulated CPU.) Run it alone on the host: another guest or test run on the
same CPUs slows the emulation and inflates every number.

Same LVS-DR topology and timers for all three: a director namespace (the IPVS
table, VIP 192.0.2.100:3389 on a bridge), real servers in up to ten namespaces
with several addresses each (200 namespaces are too heavy for the emulated
guest), one responder process per namespace answering RDP on each address,
10% of the reals hung (they accept and never answer). checkinterval 1 s,
timeouts 1 s, quiescent (weight 0 on failure), failure after one bad check.

For each daemon and size it measures:
  start     seconds from launch until the table is fully programmed (every
            healthy real at weight > 0);
  hung out  hung reals at weight 0 (or absent) 20 s later: a TCP connect check
            passes against a server that accepts and never answers, until its
            accept queue overflows;
  cpu       CPU use of the daemon's processes in steady state (% of one CPU);
  wakes/s   their voluntary context switches a second in that window: how
            often they slept and were woken;
  killed    detection latency when a real's server process dies (its listener
            closes: connections are refused), p50/p99 over --failures faults;
  gone      the same when the host disappears (its address is removed: the
            director's packets vanish, checks time out).
Latency is from the fault to the real's weight 0 in the kernel (polled every
20 ms from /proc/net/ip_vs).

Checks: ldirectorpy does the RDP X.224 negotiation (checktype=negotiate,
service=rdp, rdptls=no); ldirectord has no RDP check, and keepalived's native
TCP_CHECK is a connect, so both do a TCP connect: they do less work per probe.
The row "ldirectorpy-connect" is ldirectorpy doing keepalived's check
(checktype=connect), for a like comparison. The row "python-floor" is no
daemon: the least a Python prober can spend on ldirectorpy's probes (the RDP
exchange with every real once a second, woken at the same 50 ms grid, nothing
else: no verdicts, no kernel, no logging), CPU only. "cpu" is utime + stime,
"sys" the stime part.

Where the time goes, if asked (each file lands beside the daemon's log in the
guest's share): FAILOVER_PYSPY=1 records the Python stacks of ldirectorpy (or
the floor) with py-spy (from PyPI in the venv; not a dependency) in
pyspy.txt; FAILOVER_PERF=1 records user and kernel symbols with perf
(cpu-clock) in perf.txt; FAILOVER_TRACE=1 runs ldirectorpy with its debug log
stamped in ms, plus how late its loop runs a 100 ms timer, callbacks over
50 ms and slow GC passes, and prints each fault's time, to line them up.

Measured 2026-12-07 (session 4), all five in one run (1706 s), the development
VM (2 CPUs), nothing else running, 20 faults per kind, 30 s CPU windows, at
commit 4a0cf8f:

  daemon               reals  start   hung out  cpu (sys)      wakes/s  killed       gone
  ldirectorpy          6      12.5s   1/1       5.5% (2.7%)    13       0.40/0.77s   1.28/1.48s
  ldirectorpy-connect  6      9.1s    0/1       5.1% (2.3%)    5        0.55/1.02s   1.46/1.91s
  python-floor         6      -       -         2.9% (1.4%)    20       -            -
  ldirectord           6      15.6s   1/1       2.2% (1.7%)    12       1.33/2.40s   3.27/3.59s
  keepalived           6      0.6s    1/1       1.7% (1.6%)    11       0.21/0.92s   1.63/1.99s
  ldirectorpy          200    8.1s    20/20     52.8% (30.7%)  19       0.41/0.69s   1.44/2.03s
  ldirectorpy-connect  200    7.9s    0/20      45.4% (24.0%)  16       0.69/1.00s   1.62/2.05s
  python-floor         200    -       -         27.1% (20.7%)  20       -            -
  ldirectord           200    225.8s  20/20     8.9% (3.7%)    35       23.86/24.05s 25.17/25.39s
  keepalived           200    0.6s    20/20     30.6% (28.0%)  309      0.42/0.86s   1.60/7.20s
  (n=20 faults each; ldirectord at 200: n=4, capped by --budget)

Over 40 faults per kind at 200 reals (commit 1ea2892): ldirectorpy killed
0.50/1.06 s, gone 1.53/2.19 s, 61.0% CPU; keepalived 0.43/1.01 s, 1.52/2.01 s,
29.8%; python-floor 28.9%. The detection bound (2.5 s) now holds at 200 reals:
a verdict reaches the kernel in the next turn of the event loop (it went
through a queue, a task and a 50 ms sleep, each a turn of a loop that takes
100-300 ms here). The CPU goal does not: the floor shows a Python prober can
spend what keepalived does; the daemon's ~30 Python calls per probe and
context-switch time in the kernel are the rest (benchmarks/README.md).

Measured 2026-12-07 (session 3), the development VM (2 CPUs), nothing else
running, guest with --smp 2 (TCG), Debian 12's ldirectord 1:4.12.0-2 and
keepalived 1:2.2.7, 40 s CPU windows, all four in one run (28 min; --budget 150,
so ldirectord's 200-real faults are a few), at commit d0cb2ed:

  daemon               reals  start   hung out  cpu (sys)      killed             gone
  ldirectorpy          6      8.6s    1/1       5.2% (2.1%)    0.37/0.92s n=20    1.38/2.04s n=20
  ldirectorpy-connect  6      5.5s    0/1       3.5% (1.4%)    0.55/1.01s n=20    1.48/1.94s n=20
  ldirectord           6      13.3s   1/1       2.7% (1.9%)    1.24/2.38s n=20    3.19/3.36s n=20
  keepalived           6      0.6s    1/1       1.5% (1.4%)    0.45/0.88s n=20    1.51/1.99s n=20
  ldirectorpy          200    8.3s    20/20     66.0% (33.8%)  0.73/1.82s n=20    1.36/2.14s n=20
  ldirectorpy-connect  200    8.8s    0/20      50.9% (26.1%)  0.88/1.17s n=20    1.74/2.12s n=20
  ldirectord           200    189.3s  20/20     9.7% (3.9%)    24.06/24.42s n=4   25.11/25.40s n=4
  keepalived           200    0.7s    20/20     33.1% (30.4%)  0.61/1.05s n=20    1.49/1.94s n=20

Again at 200 reals at commit 82f7867 (the reactor keeps to the grid while busy):

  ldirectorpy          200    13.3s   20/20     63.4% (34.1%)  0.62/1.39s n=20    1.53/2.69s n=20
  ldirectorpy-connect  200    9.4s    0/20      55.0% (28.7%)  0.98/1.29s n=20    1.83/2.55s n=20
  keepalived           200    0.8s    20/20     33.3% (30.2%)  0.73/1.04s n=20    1.75/7.04s n=20

With 40 faults per kind and every daemon's files on the guest's tmpfs (a log
over the 9p share can block the daemon), at a5611d5:

  ldirectorpy          200    12.8s   20/20     55.4% (29.8%)  0.58/1.50s n=40    1.53/3.12s n=40
  keepalived           200    0.9s    20/20     31.1% (28.9%)  0.58/1.05s n=40    1.52/7.14s n=40

The bound checkinterval + timeout + 0.5 s is 2.5 s. ldirectorpy keeps it at 6
reals and, in the first run, at 200 (p99 1.82 s killed, 2.14 s gone; the
previous session's 2.69/3.76 s), but not reliably: over 40 faults the slowest
"gone" took 3.1 s. A p99 of 20 faults is their maximum, and at 200 reals the emulated
guest is loaded (the daemon, ten responders and this poller on two CPUs), so a
single slow fault decides it; keepalived's own "gone" p99 went from 1.94 s to
7.04 s between the two runs. ldirectord checks serially: 24-25 s to notice a
fault behind 20 hung servers, 189 s to start.

CPU at 200 reals: 63-66% of an emulated CPU for ldirectorpy (session 2:
78%), 51-55% for ldirectorpy-connect, 33% for keepalived: the goal (no more
than keepalived) is not met. Where it goes: system time is alike (30-34% for
all three), because in this one-machine topology the kernel runs both ends of
every TCP exchange inside the prober's own system calls (a py-spy profile of
the daemon put connect() at 39% of its busy time, send() of the X.224 request
at 26%, close() at 8%); the difference is user time, 26-32% for ldirectorpy
against keepalived's 3%: the Python interpreter under TCG, per probe and per
wake-up (a bare asyncio timer wake-up costs ~1 ms of CPU in the guest, ~0.15
ms on the host). Done about it in session 3: no task per check (the engine),
a 50 ms wake-up grid (71% -> 54% in a like-for-like pair of runs), the reactor
keeping to that grid while busy (55 -> 22 wake-ups a second on the host).
Repeated runs of one configuration vary by up to +-10% here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ldirectorpy import _netns

VIP = "192.0.2.100"
PORT = 3389
INTERVAL = 1.0
TIMEOUT = 1.0
MAX_NS = 10
START_LIMIT = 420.0  # seconds a daemon gets to program the table (--start-limit)
HERE = Path(__file__).resolve().parent

RESPONDER = textwrap.dedent(
    """
    import select, socket, sys
    CC = bytes.fromhex("030000130ed000001234000201080001000000")
    ep = select.epoll(); listeners = {}; conns = {}
    def open_(addr, hang):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, 3389)); s.listen(128); s.setblocking(False)
        listeners[addr] = s
        if not hang:
            ep.register(s.fileno(), select.EPOLLIN)
    def close_(addr):
        s = listeners.pop(addr, None)
        if s is not None:
            try: ep.unregister(s.fileno())
            except (OSError, ValueError): pass
            s.close()
    byfd = lambda fd: next((s for s in listeners.values() if s.fileno() == fd), None)
    for word in sys.argv[1:]:
        addr, _, mode = word.partition("=")
        open_(addr, mode == "hang")
    ep.register(sys.stdin.fileno(), select.EPOLLIN)
    print("ready", flush=True)
    while True:
        for fd, _ in ep.poll():
            if fd == sys.stdin.fileno():
                cmd, addr = sys.stdin.readline().split()
                close_(addr) if cmd == "close" else open_(addr, False)
                print("ok", flush=True)
                continue
            listener = byfd(fd)
            if listener is not None:
                try:
                    c, _ = listener.accept()
                except OSError:
                    continue
                c.setblocking(False); conns[c.fileno()] = c
                ep.register(c.fileno(), select.EPOLLIN)
                continue
            c = conns.pop(fd, None)
            if c is None:  # a listener closed earlier in this same batch
                continue
            ep.unregister(fd)
            try:
                if c.recv(512): c.send(CC)
            except OSError:
                pass
            c.close()
    """
)


# The daemon with its debug log on stderr, each line stamped with the epoch time
# in ms, to line up with the "fault" lines FAILOVER_TRACE=1 prints.
TRACE_DAEMON = textwrap.dedent(
    """
    import logging, sys
    from ldirectorpy import cli
    from ldirectorpy.daemon import runner
    plain = runner.configure
    def stamped(*args, **kwargs):
        logger = plain(*args, **kwargs)
        for handler in logger.handlers:
            handler.setFormatter(logging.Formatter("%(created).3f %(message)s"))
        return logger
    runner.configure = stamped
    import asyncio, logging, time
    from ldirectorpy.daemon import reconcile
    log = logging.getLogger("ldirectorpy")
    mark = reconcile.Reconciler.mark_dirty
    def marked(self):
        if not self._dirty.is_set():
            log.debug("trace: dirty")
        mark(self)
    reconcile.Reconciler.mark_dirty = marked
    async def lag():  # how late the loop runs a 100 ms timer, and was it busy
        while True:
            began, cpu = time.monotonic(), time.process_time()
            await asyncio.sleep(0.1)
            late = time.monotonic() - began - 0.1
            if late > 0.08:
                used = time.process_time() - cpu
                log.debug("trace: loop late %.0f ms, cpu %.0f ms", late * 1000, used * 1000)
    import asyncio.events, gc
    plain_handle = asyncio.events.Handle._run
    def timed(self):
        began = time.monotonic()
        plain_handle(self)
        took = time.monotonic() - began
        if took > 0.05:
            log.debug("trace: callback %.0f ms: %r", took * 1000, self._callback)
    asyncio.events.Handle._run = timed
    gc_began = [0.0]
    def gc_watch(phase, info):
        if phase == "start":
            gc_began[0] = time.monotonic()
        elif time.monotonic() - gc_began[0] > 0.02:
            took = (time.monotonic() - gc_began[0]) * 1000
            log.debug("trace: gc gen%d %.0f ms", info["generation"], took)
    gc.callbacks.append(gc_watch)
    plain_run = reconcile.Reconciler.run
    async def run(self, resync):
        asyncio.get_running_loop().create_task(lag())
        await plain_run(self, resync)
    reconcile.Reconciler.run = run
    sys.argv[0] = "ldirectorpy"
    sys.exit(cli.main())
    """
)


# The least a Python prober can spend on the same work: every real gets an RDP
# negotiation once a second (X.224 request, read the answer, close; 1 s timeout),
# on one epoll, woken only at 50 ms grid points (ldirectorpy's grid). No
# verdicts, no IPVS, no logging: what remains is the interpreter and the
# system calls. CPU only (the "python-floor" row).
FLOOR = textwrap.dedent(
    """
    import _socket, collections, select, sys, time
    from ldirectorpy.checks.rdp_wire import build_connection_request
    REQ = build_connection_request(0x03)
    targets = [(a, 3389) for a in sys.argv[1:]]
    GRID, SLOTS = 0.05, 20
    FLAGS = _socket.SOCK_STREAM | _socket.SOCK_NONBLOCK
    ET = select.EPOLLIN | select.EPOLLOUT | select.EPOLLET
    ep = select.epoll(); live = {}; ages = collections.deque()
    tick = 0; base = time.monotonic()
    while True:
        now = time.monotonic()
        while ages and ages[0][0] <= now - 1.0:
            _, fd, sock = ages.popleft()
            if live.get(fd) is sock:
                del live[fd]; sock.close()
        for addr in targets[tick % SLOTS :: SLOTS]:
            sock = _socket.socket(_socket.AF_INET, FLAGS)
            sock.connect_ex(addr)
            fd = sock.fileno()
            ep.register(fd, ET)
            live[fd] = sock; ages.append((now, fd, sock))
        for fd, ev in ep.poll(0):
            sock = live.get(fd)
            if sock is None:
                continue
            try:
                if ev & select.EPOLLIN:
                    sock.recv(512)
                elif ev & select.EPOLLOUT:
                    sock.send(REQ); continue
            except OSError:
                pass
            del live[fd]; sock.close()
        tick += 1
        time.sleep(max(0.0, base + tick * GRID - time.monotonic()))
    """
)


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def weights() -> dict[str, int]:
    """Real address -> weight under VIP:3389, from the director namespace's /proc."""
    out: dict[str, int] = {}
    lines = Path("/proc/thread-self/net/ip_vs").read_text().splitlines()[3:]
    for line in lines:
        words = line.split()
        if words[0] == "->":
            host = int(words[1].partition(":")[0], 16)
            addr = ".".join(str((host >> s) & 0xFF) for s in (24, 16, 8, 0))
            out[addr] = int(words[3])
    return out


@dataclass(slots=True)
class Topology:
    size: int
    namespaces: list[str] = field(default_factory=list)
    reals: list[str] = field(default_factory=list)
    hung: set[str] = field(default_factory=set)
    home: dict[str, str] = field(default_factory=dict)  # real -> namespace
    responders: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def build(self) -> None:
        sh("ip", "link", "add", "br0", "type", "bridge")
        sh("ip", "addr", "add", "192.0.2.1/24", "dev", "br0")
        sh("ip", "addr", "add", f"{VIP}/24", "dev", "br0")
        sh("ip", "link", "set", "br0", "up")
        # 198.18.0.0/15 holds the reals: room for 200 and more.
        count = min(self.size, MAX_NS)
        self.reals = [f"198.18.{1 + i // 250}.{1 + i % 250}" for i in range(self.size)]
        sh("ip", "addr", "add", "198.18.0.1/15", "dev", "br0")
        rng = random.Random(6)
        self.hung = set(rng.sample(self.reals, max(1, self.size // 10)))
        for n in range(count):
            ns = _netns.new(f"brs{n}")  # lo up
            self.namespaces.append(ns)
            sh("ip", "link", "add", f"rs{n}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", f"rs{n}", "master", "br0", "up")
            mine = self.reals[n::count]
            batch = "".join(f"addr add {a}/15 dev eth0\n" for a in mine)
            batch += f"addr add {VIP}/32 dev lo\nlink set eth0 up\n"
            subprocess.run(["ip", "-n", ns, "-batch", "-"], input=batch, text=True, check=True)
            with _netns.inside(ns):
                for key in ("all", "eth0"):
                    conf = Path(f"/proc/sys/net/ipv4/conf/{key}")
                    (conf / "arp_ignore").write_text("1")
                    (conf / "arp_announce").write_text("2")
                    # Removing a "gone" real's address must not take its secondaries along.
                    (conf / "promote_secondaries").write_text("1")
            for a in mine:
                self.home[a] = ns
            words = [f"{a}={'hang' if a in self.hung else 'rdp'}" for a in mine]
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-c", RESPONDER, *words],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            self.responders[ns] = proc

    def command(self, real: str, cmd: str) -> None:
        proc = self.responders[self.home[real]]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{cmd} {real}\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "ok\n"

    def fault(self, real: str, kind: str) -> None:
        if kind == "killed":
            self.command(real, "close")
        else:
            sh("ip", "-n", self.home[real], "addr", "del", f"{real}/15", "dev", "eth0")

    def repair(self, real: str, kind: str) -> None:
        if kind == "killed":
            self.command(real, "open")
        else:
            sh("ip", "-n", self.home[real], "addr", "add", f"{real}/15", "dev", "eth0")

    def destroy(self) -> None:
        for proc in self.responders.values():
            proc.kill()
            proc.wait()
        for ns in self.namespaces:
            _netns.delete(ns)
        subprocess.run(["ip", "link", "del", "br0"], check=False)


# -- the three daemons -------------------------------------------------------------


def ldirectord_style(reals: list[str], check: str, root: Path, extra: str = "") -> str:
    lines = "".join(f"    real = {a}:{PORT} gate\n" for a in reals)
    return (
        f"checkinterval = {INTERVAL:g}\nchecktimeout = {TIMEOUT:g}\n"
        f"negotiatetimeout = {TIMEOUT:g}\nfailurecount = 1\nquiescent = yes\n"
        f'logfile = "{root}/daemon.log"\n{extra}'
        f"virtual = {VIP}:{PORT}\n{lines}    scheduler = wlc\n    protocol = tcp\n{check}"
    )


def keepalived_conf(reals: list[str]) -> str:
    body = "".join(
        f"""    real_server {a} {PORT} {{
        weight 1
        inhibit_on_failure
        TCP_CHECK {{
            connect_timeout {TIMEOUT:g}
            retry 0
            delay_before_retry {INTERVAL:g}
        }}
    }}
"""
        for a in reals
    )
    return (
        f"virtual_server {VIP} {PORT} {{\n    delay_loop {INTERVAL:g}\n    lb_algo wlc\n"
        f"    lb_kind DR\n    protocol TCP\n{body}}}\n"
    )


@dataclass(slots=True)
class Daemon:
    name: str
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    stopper: Callable[[], None] | None = None

    def start(self, reals: list[str]) -> None:
        # The pid file and control socket: not in the guest share (9p has no sockets).
        env = {**os.environ, "LDIRECTORPY_RUN_DIR": tempfile.mkdtemp(prefix="ldpb-run-")}
        cf = self.root / "ldirectord.cf"
        out = open(self.root / "stdout.log", "wb")  # noqa: SIM115
        if self.name.startswith("ldirectorpy"):
            check = "    checktype = negotiate\n    service = rdp\n    rdptls = no\n"
            if self.name == "ldirectorpy-connect":  # keepalived's check, for a like comparison
                check = "    checktype = connect\n"
            cf.write_text(ldirectord_style(reals, check, self.root))
            argv = [sys.executable, "-m", "ldirectorpy", "--foreground", str(cf), "start"]
            if os.environ.get("FAILOVER_TRACE"):  # debug log, times in ms (see fault lines)
                argv = [sys.executable, "-c", TRACE_DAEMON, "-d", str(cf), "start"]
        elif self.name == "python-floor":
            argv = [sys.executable, "-c", FLOOR, *reals]
        elif self.name == "ldirectord":
            cf.write_text(ldirectord_style(reals, "    checktype = connect\n", self.root))
            argv = ["/usr/sbin/ldirectord", "-d", str(cf), "start"]
        else:
            conf = self.root / "keepalived.conf"
            conf.write_text(keepalived_conf(reals))
            argv = [
                "keepalived", "-n", "-G", "-C", "-f", str(conf),
                "-p", str(self.root / "k.pid"), "-c", str(self.root / "kc.pid"),
                "-r", str(self.root / "kv.pid"),
            ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        sh("ipvsadm", "-C")

    def usage(self) -> Usage:
        """CPU and sleeps of the daemon's whole session (the daemon and its children)."""
        assert self.proc is not None
        user = system = sleeps = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[3]) != self.proc.pid:  # session id
                    continue
                status = stat.with_name("status").read_text()
            except OSError:
                continue
            user += int(fields[11])
            system += int(fields[12])
            sleeps += int(status.partition("\nvoluntary_ctxt_switches:")[2].split()[0])
        tck = os.sysconf("SC_CLK_TCK")
        return Usage(user / tck, system / tck, sleeps)


@dataclass(slots=True)
class Usage:
    user: float  # seconds
    system: float
    sleeps: int  # voluntary context switches: each a wait for I/O or a timer, then a wake-up


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def programmed(topo: Topology) -> bool:
    """Every healthy real is in the table with a weight (hung ones: see `hung out`)."""
    w = weights()
    return all(w.get(r, 0) > 0 for r in topo.reals if r not in topo.hung)


def wait(predicate: Callable[[], bool], limit: float) -> float | None:
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > limit:
            return None
        time.sleep(0.02)
    return time.monotonic() - began


def steady_cpu(daemon: Daemon, window: float) -> tuple[str, str, str]:
    """The daemon's CPU (user + system), its system share and its wake-ups a
    second, over ``window`` seconds."""
    before, t0 = daemon.usage(), time.monotonic()
    time.sleep(window)
    after, t1 = daemon.usage(), time.monotonic()
    span = t1 - t0
    total = after.user - before.user + after.system - before.system
    return (
        f"{100 * total / span:.1f}%",
        f"{100 * (after.system - before.system) / span:.1f}%",
        f"{(after.sleeps - before.sleeps) / span:.0f}",
    )


def profile(daemon: Daemon, root: Path) -> None:
    """Where a daemon's CPU goes, if asked: FAILOVER_PYSPY=1 records its Python
    stacks (py-spy from PyPI in the venv; not a dependency) in pyspy.txt,
    FAILOVER_PERF=1 its user and kernel symbols (perf, cpu-clock) in perf.txt."""
    assert daemon.proc is not None
    pid = str(daemon.proc.pid)
    if os.environ.get("FAILOVER_PYSPY") and daemon.name.startswith(("ldirectorpy", "python")):
        spy = Path(sys.executable).with_name("py-spy")
        subprocess.run(
            [str(spy), "record", "--pid", pid, "--duration", "15", "--rate", "200",
             "--nonblocking", "--format", "raw", "--output", str(root / "pyspy.txt")],
            capture_output=True, check=False,
        )  # fmt: skip
    if os.environ.get("FAILOVER_PERF"):
        data = str(root / "perf.data")
        subprocess.run(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-p", pid, "-o", data,
             "--", "sleep", "15"],
            capture_output=True, check=False,
        )  # fmt: skip
        with open(root / "perf.txt", "w") as out:
            subprocess.run(
                ["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym"],
                stdout=out, stderr=subprocess.DEVNULL, check=False,
            )  # fmt: skip


def measure(
    name: str,
    topo: Topology,
    failures: int,
    budget: float,
    root: Path,
    *,
    start_limit: float = START_LIMIT,
    cpu_window: float = 20.0,
) -> dict[str, str]:
    daemon = Daemon(name, root)
    row = {"daemon": name, "reals": str(topo.size)}
    try:
        launched = time.monotonic()
        daemon.start(topo.reals)
        assert daemon.proc is not None
        proc = daemon.proc
        if name == "python-floor":  # probes only: no table to wait for, no faults
            time.sleep(5)
            row["cpu"], row["sys"], row["wakes/s"] = steady_cpu(daemon, cpu_window)
            profile(daemon, root)
            return row
        took = wait(lambda: programmed(topo) or proc.poll() is not None, start_limit)
        if proc.poll() is not None:
            row["start"] = f"exited {proc.returncode}"
            tail = (root / "stdout.log").read_text(errors="replace").splitlines()[-15:]
            print("\n".join(f"    | {line}" for line in tail), flush=True)
            return row
        row["start"] = "timeout" if took is None else f"{time.monotonic() - launched:.1f}s"
        if took is None:
            return row
        time.sleep(2)
        row["cpu"], row["sys"], row["wakes/s"] = steady_cpu(daemon, cpu_window)
        profile(daemon, root)
        w = weights()
        row["hung out"] = f"{sum(1 for r in topo.hung if w.get(r, 0) == 0)}/{len(topo.hung)}"
        healthy = [r for r in topo.reals if r not in topo.hung]
        for kind in ("killed", "gone"):
            latencies: list[float] = []
            began = time.monotonic()
            tried = 0
            while tried < failures and time.monotonic() - began < budget:
                # (past the budget, a slow daemon reports the faults measured so far)
                real = healthy[tried % len(healthy)]
                tried += 1
                topo.fault(real, kind)
                faulted = time.time()
                lat = wait(lambda r=real: weights().get(r, 0) == 0, 120)  # type: ignore[misc]
                if os.environ.get("FAILOVER_TRACE"):
                    print(f"    fault {kind} {real} at {faulted:.3f}: {lat}", flush=True)
                topo.repair(real, kind)
                if lat is not None:
                    latencies.append(lat)
                wait(lambda r=real: weights().get(r, 0) > 0, 120)  # type: ignore[misc]
            missed = tried - len(latencies)
            row[kind] = (
                f"{pct(latencies, 0.5):.2f}/{pct(latencies, 0.99):.2f}s n={len(latencies)}"
                if latencies
                else "-"
            ) + (f" ({missed} missed)" if missed else "")
            print(f"  {name} {topo.size} {kind}: {row[kind]}", flush=True)
    finally:
        daemon.stop()
    return row


@contextlib.contextmanager
def daemon_root(name: str, size: int) -> Iterator[Path]:
    """Where a daemon's files go while it runs: a local temporary directory (in
    the guest a tmpfs; a log written over the 9p share would block the daemon
    on every line while the emulated CPUs are busy), copied afterwards to the
    guest's share, where there is one, for the host to keep."""
    share = os.environ.get("LDIRECTORPY_GUEST_SHARE")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            yield Path(tmp)
        finally:
            if share:
                shutil.copytree(tmp, Path(share, f"failover-{name}-{size}"), dirs_exist_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="6,200")
    ap.add_argument("--failures", type=int, default=20)
    ap.add_argument("--daemons", default="ldirectorpy,ldirectorpy-connect,ldirectord,keepalived")
    ap.add_argument("--start-limit", type=float, default=START_LIMIT)
    ap.add_argument(
        "--cpu-window", type=float, default=40.0, help="seconds of steady state to measure CPU"
    )
    ap.add_argument(
        "--budget", type=float, default=240.0, help="seconds per daemon, size and fault kind"
    )
    args = ap.parse_args()
    rows: list[dict[str, str]] = []
    director = _netns.new("bdir")
    try:
        with _netns.inside(director):
            for size in (int(s) for s in args.sizes.split(",")):
                topo = Topology(size)
                topo.build()
                try:
                    for name in args.daemons.split(","):
                        print(f"{name} with {size} reals ...", flush=True)
                        with daemon_root(name, size) as root:
                            row = measure(
                                name,
                                topo,
                                args.failures,
                                args.budget,
                                root,
                                start_limit=args.start_limit,
                                cpu_window=args.cpu_window,
                            )
                        rows.append(row)
                        print(f"  {row}", flush=True)
                finally:
                    topo.destroy()
    finally:
        _netns.delete(director)
    cols = ("daemon", "reals", "start", "hung out", "cpu", "sys", "wakes/s", "killed", "gone")
    print(
        f"\nfailure detection, p50/p99 over {args.failures} faults each; "
        f"checkinterval {INTERVAL:g}s, timeout {TIMEOUT:g}s, 10% of reals hung"
    )
    widths = [max(len(c), *(len(r.get(c, "-")) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(r.get(c, "-").ljust(w) for c, w in zip(cols, widths, strict=True)))


if __name__ == "__main__":
    main()
