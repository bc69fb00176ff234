"""A terminal-server farm behind an LVS-DR director, in one kernel (the QEMU guest).

    client ns            director ns (the IPVS table)           six real-server ns
    198.51.100.10 --+    br0: 192.0.2.1/24, VIP 192.0.2.100/24   192.0.2.11 .. .16 on eth0
                    +--- bridge ports ------------------------- VIP 192.0.2.100/32 on lo
                                                                 arp_ignore=1, arp_announce=2
                                                                 xrdp on *:3389

All namespaces share one L2 segment (the director's bridge). The client has
198.51.100.10 and reaches the VIP on-link: only the director answers ARP for
it, IPVS forwards each new connection by rewriting the MAC (DR, "gate"), and
the chosen real server, which holds the VIP on lo, answers the client directly.
(A client routed through the director would make the director see replies
from its own VIP: a martian source without accept_local.)

Which real server a client connection reached is read from the director's
IPVS connection table (/proc/net/ip_vs_conn); the client binds a distinct
source port per connection so the mapping is unambiguous. Kernel state is read
from /proc/net/ip_vs of the director namespace, so polls cost no subprocess.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ldirectorpy import _netns
from ldirectorpy.checks import rdp_wire

VIP = "192.0.2.100"
PORT = 3389
DIRECTOR = "192.0.2.1"
CLIENT = "198.51.100.10"
CLIENT_NET = "198.51.100.0/24"
REALS = tuple(f"192.0.2.{n}" for n in range(11, 17))


def sh(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


inside = _netns.inside


def new_netns(prefix: str) -> str:
    return _netns.new(f"e{prefix}")


# -- the kernel's view, from the director namespace's /proc ---------------------


def _hex_addr(text: str) -> str:
    host, _, port = text.partition(":")
    value = int(host, 16)
    addr = ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))
    return f"{addr}:{int(port, 16)}" if port else addr


def read_table(proc_net: Path) -> dict[str, dict[str, int]]:
    """Virtual 'ip:port' -> {real 'ip:port' -> weight}, from /proc/net/ip_vs."""
    table: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in (proc_net / "ip_vs").read_text().splitlines()[3:]:
        words = line.split()
        if words[0] in ("TCP", "UDP", "SCTP"):
            current = table.setdefault(_hex_addr(words[1]), {})
        elif words[0] == "->" and current is not None:
            current[_hex_addr(words[1])] = int(words[3])
    return table


def read_conns(proc_net: Path) -> dict[int, str]:
    """Client source port -> real server address, for connections from CLIENT."""
    out: dict[int, str] = {}
    client_hex = socket.inet_aton(CLIENT).hex().upper()
    for line in (proc_net / "ip_vs_conn").read_text().splitlines()[1:]:
        words = line.split()
        if len(words) >= 7 and words[1] == client_hex:
            out[int(words[2], 16)] = _hex_addr(words[5])
    return out


# -- the RDP client -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float  # time.monotonic() when the connection began
    port: int  # the client's source port
    ok: bool  # a well-formed X.224 Connection Confirm came back
    reason: str


_ports = itertools.count(20000)
CR = rdp_wire.build_connection_request(
    rdp_wire.PROTOCOL_SSL | rdp_wire.PROTOCOL_HYBRID, cookie="client"
)


def negotiate(timeout: float = 3.0) -> Attempt:
    """One X.224 CR/CC exchange with VIP:3389 from a fresh source port.

    Call it from a thread that is inside the client namespace.
    """
    port = next(_ports)
    began = time.monotonic()
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((CLIENT, port))
        sock.settimeout(timeout)
        sock.connect((VIP, PORT))
        sock.sendall(CR)
        data = b""
        while len(data) < 4 or len(data) < rdp_wire.tpkt_length(data[:4]):
            chunk = sock.recv(512)
            if not chunk:
                raise ConnectionError(f"closed after {len(data)} bytes")
            data += chunk
        confirm = rdp_wire.parse_connection_confirm(data)
        neg = confirm.neg
        reason = (
            rdp_wire.protocol_names(neg.selected)
            if isinstance(neg, rdp_wire.NegResponse)
            else str(neg)
        )
        return Attempt(began, port, True, reason)
    except (OSError, rdp_wire.RdpDecodeError) as exc:
        return Attempt(began, port, False, f"{type(exc).__name__}: {exc}")
    finally:
        sock.close()


class Client:
    """The farm's client: batches of RDP negotiations, or a steady background stream."""

    def __init__(self, namespace: str, proc_net: Path) -> None:
        self.namespace = namespace
        self.proc_net = proc_net
        self.attempts: list[Attempt] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def batch(self, count: int) -> list[tuple[Attempt, str | None]]:
        """`count` negotiations in a row; each with the real server IPVS sent it to."""
        done: list[Attempt] = []
        worker = threading.Thread(target=self._run_batch, args=(count, done))
        worker.start()
        worker.join()
        return self.resolve(done)

    def _run_batch(self, count: int, done: list[Attempt]) -> None:
        with inside(self.namespace):
            done.extend(negotiate() for _ in range(count))

    def start(self, pause: float = 0.05) -> None:
        """Keeps negotiating until stop(); the attempts land in `self.attempts`."""
        self.attempts = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_loop, args=(pause,), daemon=True)
        self._thread.start()

    def _run_loop(self, pause: float) -> None:
        with inside(self.namespace):
            while not self._stop.is_set():
                self.attempts.append(negotiate())
                self._stop.wait(pause)

    def stop(self) -> list[tuple[Attempt, str | None]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return self.resolve(self.attempts)

    def resolve(self, attempts: list[Attempt]) -> list[tuple[Attempt, str | None]]:
        conns = read_conns(self.proc_net)
        return [(a, conns.get(a.port)) for a in attempts]


# -- real servers ---------------------------------------------------------------

# Stand-ins for broken terminal servers, run in a real server's namespace:
#   garbage   answers an RDP request with HTTP;
#   PATTERN   of g/b letters, cycled per connection: g a valid Connection Confirm
#             (PROTOCOL_SSL selected), b garbage (a flapping server).
# SIGUSR1 turns any of them into `garbage` from the next connection on.
BROKEN = textwrap.dedent(
    """
    import itertools, signal, socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 3389)); s.listen(128)
    good = bytes.fromhex("030000130ed000001234000201080001000000")
    bad = b"HTTP/1.0 400 Bad Request\\r\\n\\r\\n"
    spoiled = sys.argv[1] == "garbage"
    def spoil(*_):
        global spoiled
        spoiled = True
    signal.signal(signal.SIGUSR1, spoil)
    for letter in itertools.cycle(sys.argv[1]):
        c, _ = s.accept()
        try:
            c.recv(512); c.sendall(bad if spoiled or letter != "g" else good)
        except OSError:
            pass
        c.close()
    """
)


def xrdp_ini(directory: Path) -> Path:
    """xrdp.ini for one instance: *:3389 in its namespace, negotiate, no fork, own log."""
    settings = {
        "port=": "port=3389",
        # One process per server: killing it kills the terminal server.
        "fork=": "fork=false",
        "security_layer=": "security_layer=negotiate",
        "LogFile=": f"LogFile={directory}/xrdp.log",
        "EnableSyslog=": "EnableSyslog=false",
    }
    lines = []
    in_globals = False
    for line in Path("/etc/xrdp/xrdp.ini").read_text().splitlines():
        if line.startswith("["):
            in_globals = line.strip() in ("[Globals]", "[Logging]")
        key = next((k for k in settings if line.startswith(k)), None)
        lines.append(settings[key] if in_globals and key else line)
    ini = directory / "xrdp.ini"
    ini.write_text("\n".join(lines) + "\n")
    return ini


@dataclass(slots=True)
class Server:
    address: str
    namespace: str
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    kind: str = "down"  # xrdp | garbage | a g/b pattern | down
    link_up: bool = True
    frozen: bool = False

    def listening(self) -> bool:
        out = sh("ip", "netns", "exec", self.namespace, "ss", "-Hltn", "sport", "= :3389")
        return bool(out.strip())


# -- the whole farm -------------------------------------------------------------


@dataclass(slots=True)
class Farm:
    director: str
    root: Path
    proc_net: Path
    servers: dict[str, Server] = field(default_factory=dict)
    client_ns: str = ""
    namespaces: list[str] = field(default_factory=list)
    config: Path = Path()
    env: dict[str, str] = field(default_factory=dict)
    client: Client | None = None

    # building and tearing down

    def build(self, reals: tuple[str, ...] = REALS) -> None:
        self.config = self.root / "ldirectord.cf"
        self.env = {**os.environ, "LDIRECTORPY_RUN_DIR": str(self.root / "run")}
        sh("ip", "link", "add", "br0", "type", "bridge")
        sh("ip", "addr", "add", f"{DIRECTOR}/24", "dev", "br0")
        sh("ip", "addr", "add", f"{VIP}/24", "dev", "br0")
        sh("ip", "link", "set", "br0", "up")
        sh("ip", "route", "add", CLIENT_NET, "dev", "br0")
        self.client_ns = self._attach("cli", "cl0", f"{CLIENT}/24")
        sh("ip", "-n", self.client_ns, "route", "add", "192.0.2.0/24", "dev", "eth0")
        for n, address in enumerate(reals):
            ns = self._attach(f"rs{n}", f"rs{n}", f"{address}/24")
            sh("ip", "-n", ns, "addr", "add", f"{VIP}/32", "dev", "lo")
            sh("ip", "-n", ns, "route", "add", CLIENT_NET, "dev", "eth0")
            with inside(ns):  # /proc/sys/net is the opening thread's namespace
                for key in ("all", "eth0"):
                    conf = Path("/proc/sys/net/ipv4/conf", key)
                    (conf / "arp_ignore").write_text("1")
                    (conf / "arp_announce").write_text("2")
            directory = self.root / f"rs-{address}"
            directory.mkdir(parents=True, exist_ok=True)
            xrdp_ini(directory)
            self.servers[address] = Server(address, ns, directory)
        self.client = Client(self.client_ns, self.proc_net)

    def _attach(self, prefix: str, port: str, address: str) -> str:
        """A namespace whose eth0 is a port of the director's bridge."""
        ns = new_netns(prefix)
        self.namespaces.append(ns)
        sh("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", address, "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        return ns

    def destroy(self) -> None:
        if self.config.exists() and self.cli("status").returncode == 0:
            self.cli("stop")
        for server in self.servers.values():
            self.stop_server(server.address)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "delete", ns], check=False, capture_output=True)

    # real servers

    def start_server(self, address: str, kind: str = "xrdp") -> None:
        """Starts a terminal server (xrdp) or a broken stand-in (see BROKEN)."""
        server = self.servers[address]
        self.stop_server(address)
        if kind == "xrdp":
            argv = ["xrdp", "-n", "-c", str(server.directory / "xrdp.ini")]
        else:
            argv = [sys.executable, "-c", BROKEN, kind]
        server.process = subprocess.Popen(
            ["ip", "netns", "exec", server.namespace, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        server.kind = kind
        deadline = time.monotonic() + 30
        while not server.listening():
            assert server.process.poll() is None, f"{kind} on {address} exited"
            assert time.monotonic() < deadline, f"{kind} on {address} does not listen"
            time.sleep(0.1)

    def kill_server(self, address: str) -> None:
        """SIGKILL: the terminal server's process dies, the host stays up."""
        self.stop_server(address)

    def freeze(self, address: str, frozen: bool = True) -> None:
        """SIGSTOP (or SIGCONT) the server: a hung terminal server. The kernel still
        completes TCP handshakes into its accept queue; nothing ever answers."""
        server = self.servers[address]
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
        server.frozen = frozen

    def spoil(self, address: str) -> None:
        """A stand-in server answers garbage from now on."""
        server = self.servers[address]
        assert server.process is not None and server.kind != "xrdp"
        os.kill(server.process.pid, signal.SIGUSR1)

    def stop_server(self, address: str) -> None:
        server = self.servers[address]
        server.frozen = False
        if server.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
            server.process = None
        server.kind = "down"

    def link(self, address: str, up: bool) -> None:
        """Takes the whole host off the wire (or back): its only link goes down."""
        server = self.servers[address]
        sh("ip", "-n", server.namespace, "link", "set", "eth0", "up" if up else "down")
        if up:  # a link going down takes its static routes with it
            sh("ip", "-n", server.namespace, "route", "replace", CLIENT_NET, "dev", "eth0")
        server.link_up = up

    # the director

    def write_config(self, text: str) -> None:
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config)

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """`ldirectorpy CONFIG ARGS...` as heartbeat runs it (in the director namespace)."""
        return subprocess.run(
            [sys.executable, "-m", "ldirectorpy", str(self.config), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def pid(self) -> int:
        run_dir = Path(self.env["LDIRECTORPY_RUN_DIR"])
        return int((run_dir / f"ldirectorpy.{self.config.name}.pid").read_text())

    def running(self) -> bool:
        """The daemon is alive (read cheaply: a CLI call costs seconds in the guest)."""
        try:
            os.kill(self.pid(), 0)
        except (OSError, ValueError):
            return False
        return True

    @property
    def log(self) -> Path:
        return self.root / "ldirectorpy.log"

    def log_mark(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, mark: int) -> str:
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def table(self) -> dict[str, dict[str, int]]:
        return read_table(self.proc_net)

    def weights(self) -> dict[str, int]:
        """Real server address -> kernel weight under VIP:3389 ({} when absent)."""
        reals = self.table().get(f"{VIP}:{PORT}", {})
        return {key.rpartition(":")[0]: weight for key, weight in reals.items()}


def until(
    predicate: Callable[[], bool], timeout: float, what: str | Callable[[], str] = ""
) -> float:
    """Seconds until `predicate` held; AssertionError (saying `what`) after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            said = what() if callable(what) else what
            raise AssertionError(f"not reached within {timeout:.1f}s: {said}")
        time.sleep(0.05)
    return time.monotonic() - start


@contextlib.contextmanager
def director_namespace() -> Iterator[str]:
    """A fresh namespace that this (main) thread lives in for the block's duration."""
    name = new_netns("dir")
    try:
        with inside(name):
            yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


# -- the configuration ----------------------------------------------------------

# Short timers for the guest; the bound on detection is INTERVAL + NEGOTIATE + 0.5 s
# plus SLACK (justified in test_farm.py).
INTERVAL = 1.0
NEGOTIATE = 1.0
RESYNC = 3.0


def config_text(
    root: Path,
    reals: tuple[str, ...] = REALS,
    *,
    failurecount: int = 1,
    risecount: int = 1,
    negotiate: float = NEGOTIATE,
    interval: float = INTERVAL,
    extra: str = "",
) -> str:
    """conf/terminal-servers.cf with the guest's timers, a fallback and a fallbackcommand."""
    lines = "".join(f"    real = {address}:{PORT} gate\n" for address in reals)
    return (
        textwrap.dedent(
            f"""\
            checkinterval = {interval}
            negotiatetimeout = {negotiate}
            checktimeout = {negotiate}
            failurecount = {failurecount}
            risecount = {risecount}
            resyncinterval = {RESYNC}
            quiescent = yes
            cleanstop = yes
            logfile = "{root}/ldirectorpy.log"
            {extra}
            virtual = {VIP}:{PORT}
            """
        )
        + lines
        + textwrap.indent(
            textwrap.dedent(
                f"""\
                servicename = Terminal servers
                scheduler = wlc
                protocol = tcp
                checktype = negotiate
                service = rdp
                rdpprotocols = ssl,hybrid
                # The X.224 negotiation only: a TLS handshake per probe costs the
                # emulated guest more than the 1 s timeout allows under load.
                rdptls = no
                fallback = 127.0.0.1:{PORT} gate
                fallbackcommand = "{root}/fallback.sh"
                """
            ),
            "    ",
        )
    )


FALLBACK_SCRIPT = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/fallback.log"
"""


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """One farm per test module: namespaces, links and six running xrdp servers."""
    root = tmp_path_factory.mktemp("farm")
    with director_namespace() as director:
        farm = Farm(director, root, Path("/proc/thread-self/net"))
        try:
            farm.build()
            script = root / "fallback.sh"
            script.write_text(FALLBACK_SCRIPT)
            script.chmod(0o755)
            for address in farm.servers:
                farm.start_server(address)
            farm.write_config(config_text(root))
            yield farm
        finally:
            farm.destroy()
            share = os.environ.get("LDIRECTORPY_GUEST_SHARE")
            if share and farm.log.exists():  # for whoever reads a failure on the host
                shutil.copy(farm.log, Path(share) / "e2e-ldirectorpy.log")


ALL_UP = dict.fromkeys(REALS, 1)


def reloaded(farm: Farm, mark: int) -> None:
    """Waits until the daemon has taken a reload (SIGHUP) logged after `mark`.

    The daemon logs "Reloading ..." when it starts and "Checks: ..." only when
    the model changed; a config that parses to the running one ends silently,
    so after the first line allow the parse a few seconds of guest time.
    """
    until(lambda: "Reloading" in farm.log_since(mark), SETTLE, "reload begun")
    with contextlib.suppress(AssertionError):
        until(lambda: "Checks: " in farm.log_since(mark), 5.0)


# Start-up and reset in the guest: Python there is 10-20x slower than on a host.
SETTLE = 90.0


@pytest.fixture
def farm(topology: Farm) -> Iterator[Farm]:
    """The shared farm in its healthy steady state: six xrdp servers up, the standard
    config loaded by a running ldirectorpy, all six at weight 1 in the kernel.

    The daemon is kept between tests (each CLI call costs seconds in the guest);
    a test that stops or kills it gets a fresh one started for the next test.
    """
    f = topology
    for address, server in f.servers.items():
        if not server.link_up:
            f.link(address, up=True)
        if server.frozen:
            f.freeze(address, frozen=False)
        if server.kind != "xrdp" or server.process is None or server.process.poll() is not None:
            f.start_server(address)
    (f.root / "fallback.log").unlink(missing_ok=True)
    standard = config_text(f.root)
    if not f.running():
        f.write_config(standard)
        done = f.cli("start")
        assert done.returncode == 0, done.stderr
    elif f.config.read_text() != standard:
        mark = f.log_mark()
        f.write_config(standard)
        os.kill(f.pid(), signal.SIGHUP)
        reloaded(f, mark)
    until(lambda: f.weights() == ALL_UP, SETTLE, lambda: f"all six up: {f.weights()}")
    yield f
