"""The running director: one event loop that owns every piece of mutable state.

Health events, reloads, the resync timer and signals all end in the same
place: the reconciler marks the table dirty and converges it. Signals only set
flags; the work happens in tasks, so a stop or a reload never interrupts a
kernel write half-way, and a second stop signal during cleanup is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ldirectorpy import __version__
from ldirectorpy.changes import Change, virtual_str
from ldirectorpy.checks import use_grid
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.config import Config, LoadResult, load
from ldirectorpy.daemon.checkplan import monitored
from ldirectorpy.daemon.maintenance import Maintenance, reverse_names
from ldirectorpy.daemon.reconcile import Reconciler
from ldirectorpy.daemon.sdnotify import Notifier, watchdog_interval
from ldirectorpy.director import PairId, VirtualSpec, specs
from ldirectorpy.health import HealthEngine
from ldirectorpy.healthclock import RealClock
from ldirectorpy.healthstate import HealthEvent, Kind, Monitored, State
from ldirectorpy.ipvs.backend import IPVSBackend
from ldirectorpy.ipvs.errors import IPVSError
from ldirectorpy.ipvs.types import Table
from ldirectorpy.notify import email, monitorfile
from ldirectorpy.notify.scripts import FallbackCommand, command_argv, run_script

log = logging.getLogger("ldirectorpy")

VERSION_STR = f"ldirectorpy v{__version__}"
AUTORELOAD_POLL = 1.0  # seconds between stat()s of the config file
AUTORELOAD_SETTLE = 0.5  # wait this long after a change, for the writer to finish
# Checks due within one 50 ms step start together, and probes look at their
# sockets on the same grid, so one wake-up of the process serves them all; no
# check starts early, and deadlines stay exact. Each wake-up from idle costs
# 100-200 us on the development VM and ~1 ms in the emulated test guest: at
# 200 reals there, a 20 ms grid cost the daemon 71% of a CPU, 50 ms 54%, and
# 100 ms no less (benchmarks/failover_latency.py, session 3).
WAKEUP_GRID = 0.05
FIRST_VIEW_WAIT = 2.0  # at most this long for first verdicts before the first pass


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _is_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def uses_host_names(config: Config) -> bool:
    """Whether a virtual or real address was written as a host name (the model
    keeps only the resolved address of a fallback, so a named fallback is only
    re-resolved when the file changes)."""
    for virtual in config.virtuals:
        if virtual.fwmark is None and not _is_literal(virtual.host):
            return True
        if any(not _is_literal(real.host) for real in virtual.reals):
            return True
    return False


class Daemon:
    def __init__(
        self,
        config_path: Path,
        config: Config,
        backend: IPVSBackend,
        *,
        notifier: Notifier | None = None,
        loader: Callable[[Path], LoadResult] = load,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.backend = backend
        self.notifier = notifier or Notifier()
        self.loader = loader
        self.state = "starting"  # ldirectord's daemon status, for emailalertstatus
        self.config_error: str | None = None
        # What the running configuration was read from, and what the watcher
        # last saw on disk (they differ while a change is ignored: autoreload=no).
        self.loaded_digest = file_digest(config_path)
        self.seen_digest = self.loaded_digest
        self.stamp = file_stamp(config_path)
        self.virtuals: tuple[VirtualSpec, ...] = specs(config)
        self.by_key = {v.key: v for v in self.virtuals}
        self.monitoring = _monitoring(self.virtuals)
        self.maintenance = Maintenance(config.maintenancedir)
        self.external_slots = asyncio.Semaphore(config.maxexternalchecks)
        self.engine = HealthEngine(
            events=self._on_health_event,
            max_in_flight=config.maxprobes,
            forced_down=self._forced_down,
            on_result=self._monitor,
            clock=RealClock(slack=WAKEUP_GRID),
        )
        self.reconciler = Reconciler(
            backend,
            self.virtuals,
            self._health,
            readdquiescent=config.readdquiescent,
            on_changes=self._on_changes,
        )
        self.fallbacks: dict[Any, FallbackCommand] = {}
        self.down_since: dict[PairId, float] = {}  # for e-mail reminders
        self.reminded: dict[PairId, float] = {}
        self._stop = asyncio.Event()
        self._stop_signal = "TERM"
        self._tasks: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Task[Any]] = set()

    # -- the life of the daemon ---------------------------------------------------

    async def run(self, on_ready: Callable[[], None] | None = None) -> int:
        log.info("Starting %s with pid: %d", VERSION_STR, os.getpid())
        self._install_signals()
        use_grid(asyncio.get_running_loop(), WAKEUP_GRID)
        await self._resolve_maintenance_names()
        self.engine.update(monitored(self.virtuals, self.external_slots))
        try:
            await self.reconciler.adopt()
        except IPVSError as exc:
            log.error("Reading the IPVS table failed: %s", exc)
        await self._run_execute("start")
        self.engine.start()
        await self._first_view()
        await self.reconciler.reconcile(purge_tag="start")
        self.state = "running"
        self._notify_status(ready=True)
        if on_ready is not None:
            on_ready()
        self._spawn(self.reconciler.run(self.config.resyncinterval))
        self._spawn(self._watch_config())
        self._spawn(self._remind())
        interval = watchdog_interval()
        if interval is not None:
            self._spawn(self._watchdog(interval))
        await self._stop.wait()
        await self.shutdown()
        return 0

    async def _first_view(self) -> None:
        """Give the first probes a moment, so the first pass programs their
        verdicts instead of a weight 0 that a second pass must correct. Reals
        still unknown after that wait get no traffic meanwhile, as always."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_VIEW_WAIT
        while self.engine.unresolved() and loop.time() < deadline:
            await asyncio.sleep(0.05)

    def request_stop(self, signame: str = "TERM") -> None:
        if self.state == "stopping" or self._stop.is_set():
            log.info("Already stopping; signal %s ignored", signame)
            return
        self._stop_signal = signame
        self._stop.set()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(sig, self.request_stop, sig.name.removeprefix("SIG"))
        loop.add_signal_handler(signal.SIGHUP, self._spawn_reload, "signal")
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_background(self, coro: Any) -> None:
        """Fire-and-forget work (scripts, mail) that must not block anything."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def shutdown(self) -> None:
        self.state = "stopping"
        self.notifier.send(stopping=1)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.engine.stop()
        await self._run_execute("stop")
        clean = [v for v in self.virtuals if v.virtual.cleanstop]
        if clean:
            keep = tuple(v for v in self.virtuals if not v.virtual.cleanstop)
            # Shielded: a second signal must not leave the table half cleaned.
            await asyncio.shield(
                self.reconciler.reconcile(keep, {v.key for v in clean}, purge_tag="stop")
            )
        for fallback in self.fallbacks.values():
            argv = fallback.argv_for("stop") if fallback.last == "start" else None
            if argv is not None:
                await run_script(argv)
        if self._background:
            await asyncio.wait(self._background, timeout=10)
        log.info("Linux Director Daemon terminated on signal: %s", self._stop_signal)

    # -- health --------------------------------------------------------------------

    def _health(self) -> dict[PairId, State]:
        return self.engine.states()  # type: ignore[return-value]

    def _forced_down(self, spec: Monitored) -> bool:
        return self.maintenance.in_maintenance(spec.real.address, spec.real.port)  # type: ignore[attr-defined]

    def _monitor(self, spec: Monitored, result: ProbeResult) -> None:
        """monitorfile: one line per check result, for virtuals that ask."""
        if not self.monitoring:
            return  # (every probe comes here: no lookup when nobody asked)
        vs = self.by_key.get(spec.virtual)  # type: ignore[call-overload]
        if vs is None or not vs.virtual.monitorfile:
            return
        v = vs.virtual
        check = f"{v.checktype}:{v.service}:{v.protocol}:{spec.real}"
        line = monitorfile.format_line(check, result.ok, result.reason)
        try:
            monitorfile.append(Path(v.monitorfile), line)
        except OSError as exc:
            log.warning("monitorfile %s: %s", v.monitorfile, exc.strerror)

    async def _resolve_maintenance_names(self) -> None:
        if self.config.maintenancedir is None:
            self.maintenance = Maintenance(None)
            return
        addresses = {str(r.dest.address) for v in self.virtuals for r in v.reals}
        self.maintenance = Maintenance(self.config.maintenancedir, await reverse_names(addresses))

    def _on_health_event(self, event: HealthEvent) -> None:
        # Straight from the engine, not through a queue and a task: a turn of
        # a busy loop less before the kernel hears of a failure.
        self._log_event(event)
        if event.kind is Kind.TRANSITION:
            self.reconciler.mark_dirty()

    def _log_event(self, event: HealthEvent) -> None:
        where = f"{event.real} ({_virtual_id(self, event)})"
        if event.kind is Kind.SOFT_FAILURE:
            log.info("Soft failure real server: %s failure %d/%d", where, event.count, event.limit)
        elif event.kind is Kind.SOFT_RESET:
            log.info("Resetting soft failure count: %s", where)
        elif event.kind is Kind.TRANSITION:
            verdict = "up" if event.up else "down"
            log.info("Real server %s is %s: %s", where, verdict, event.reason)

    # -- after each kernel pass ----------------------------------------------------

    def _on_changes(self, changes: list[Change]) -> None:
        now = time.time()
        by_key = {v.key: v for v in self.virtuals}
        for change in changes:
            spec = by_key.get(change.service)
            if change.dest is not None and spec is not None:
                pair = (change.service, change.dest)
                if change.message.startswith(("Quiescent", "Readd Quiescent", "Deleted real")):
                    self.down_since.setdefault(pair, now)
                elif change.message.startswith(("Restored", "Added real")):
                    self.down_since.pop(pair, None)
                    self.reminded.pop(pair, None)
            if change.alert and spec is not None:
                self._alert(spec, change.message)
        self._run_fallback_commands()
        if self.state != "starting":  # the first pass ends with READY=1 and STATUS=
            self._notify_status()

    def _run_fallback_commands(self) -> None:
        health = self._health()
        for spec in self.virtuals:
            v = spec.virtual
            if not v.fallbackcommand:
                continue
            states = [health.get(r.pair, State.UNKNOWN) for r in spec.reals]
            if any(s is State.UNKNOWN for s in states):
                continue
            action = "stop" if any(s.up for s in states) else "start"
            fallback = self.fallbacks.get(spec.key)
            if fallback is None or fallback.command != v.fallbackcommand:
                fallback = FallbackCommand(
                    v.fallbackcommand, virtual_str(spec.key), str(v.protocol)
                )
                self.fallbacks[spec.key] = fallback
            argv = fallback.argv_for(action)
            if argv is not None:
                self._spawn_background(self._run_logged(argv))

    async def _run_logged(self, argv: tuple[str, ...]) -> None:
        result = await run_script(argv)
        if result.returncode != 0:
            log.warning("%s: %s", " ".join(argv), result.reason)

    def _alert(self, spec: VirtualSpec, message: str) -> None:
        v = spec.virtual
        statuses = v.emailalertstatus
        if not v.emailalert or "none" in statuses:
            return
        if "all" not in statuses and self.state not in statuses:
            return
        alert = email.Alert(
            recipients=v.emailalert,
            message=message,
            daemon_status=self.state,
            sender=self.config.emailalertfrom,
            servicename=v.servicename,
            comment=v.comment,
        )
        self._spawn_background(self._send(alert, v.smtp))

    async def _send(self, alert: email.Alert, smtp: str | None) -> None:
        reason = await email.send(alert, smtp_host=smtp)
        if reason is not None:
            log.warning("E-mail alert not sent: %s", reason)

    async def _remind(self) -> None:
        """`Inaccessible real server` reminders every emailalertfreq seconds."""
        while True:
            await asyncio.sleep(1.0)
            by_key = {v.key: v for v in self.virtuals}
            now = time.time()
            for pair, since in list(self.down_since.items()):
                spec = by_key.get(pair[0])
                if spec is None:
                    self.down_since.pop(pair, None)
                    continue
                freq = spec.virtual.emailalertfreq
                last = self.reminded.get(pair, since)
                if freq > 0 and now - last >= freq:
                    self.reminded[pair] = now
                    self._alert(
                        spec, f"Inaccessible real server: {pair[1]} ({virtual_str(pair[0])})"
                    )

    def _notify_status(self, ready: bool = False) -> None:
        health = self._health()
        total = sum(len(v.reals) for v in self.virtuals)
        up = sum(1 for v in self.virtuals for r in v.reals if health.get(r.pair, State.UNKNOWN).up)
        fields: dict[str, str | int] = {"status": f"{up}/{total} real servers up"}
        if ready:
            fields = {"ready": 1, **fields}
        self.notifier.send(**fields)

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.send(watchdog=1)
            await asyncio.sleep(interval)

    # -- reload --------------------------------------------------------------------

    def _spawn_reload(self, why: str) -> None:
        if self.state == "stopping":
            return
        self._spawn(self.reload(why))

    async def reload(self, why: str = "signal") -> bool:
        """Re-read the configuration; on any error keep running the old one."""
        log.info("Reloading Linux Director Daemon config on %s", why)
        digest = file_digest(self.config_path)
        if digest is not None and digest == self.loaded_digest and not uses_host_names(self.config):
            # The same bytes and only literal addresses: parsing again would give
            # the same model, so skip it (with names, DNS may have moved them).
            self.stamp = file_stamp(self.config_path)
            self.config_error = None
            await self.reconciler.reconcile(purge_tag="reload")
            return True
        result = await asyncio.to_thread(self.loader, self.config_path)
        self.stamp = file_stamp(self.config_path)
        self.seen_digest = digest
        if result.config is None:
            errors = result.errors or result.diagnostics
            for diag in errors:
                log.error("Configuration not reloaded: %s", diag.text().splitlines()[0])
            self.config_error = errors[0].text().splitlines()[0] if errors else "unreadable"
            return False
        self.config_error = None
        self.loaded_digest = digest
        if result.config == self.config:
            # Same file, same names: nothing to rebuild; one pass still repairs.
            await self.reconciler.reconcile(purge_tag="reload")
            return True
        self.state = "reloading"
        old_execute = self.config.execute
        old_owned = self.reconciler.owned
        self.config = result.config
        self.virtuals = specs(result.config)
        self.by_key = {v.key: v for v in self.virtuals}
        self.monitoring = _monitoring(self.virtuals)
        self.reconciler.virtuals = self.virtuals
        self.reconciler.readdquiescent = result.config.readdquiescent
        await self._resolve_maintenance_names()
        report = self.engine.update(monitored(self.virtuals, self.external_slots))
        log.info(
            "Checks: %d kept, %d started, %d stopped", report.kept, report.started, report.stopped
        )
        await self.reconciler.reconcile(owned=old_owned | self.reconciler.owned, purge_tag="reload")
        await self._run_execute("reload", previous=old_execute)
        self.state = "running"
        return True

    async def _watch_config(self) -> None:
        """ldirectord's check_cfgfile: stat every pass, hash when it changed."""
        while True:
            await asyncio.sleep(AUTORELOAD_POLL)
            stamp = file_stamp(self.config_path)
            if stamp == self.stamp:
                continue
            await asyncio.sleep(AUTORELOAD_SETTLE)
            if file_stamp(self.config_path) != stamp:
                continue  # still being written
            self.stamp = stamp
            digest = file_digest(self.config_path)
            if digest == self.seen_digest:
                continue
            self.seen_digest = digest
            callback = self.config.callback
            if callback and os.access(callback, os.X_OK):
                self._spawn_background(
                    self._run_logged(command_argv(callback, str(self.config_path)))
                )
            if self.config.autoreload:
                await self.reload("change")
            else:
                log.info(
                    "Configuration file '%s' has changed on disk - ignore new configuration",
                    self.config_path,
                )

    # -- execute= ------------------------------------------------------------------

    async def _run_execute(self, action: str, previous: tuple[str, ...] = ()) -> None:
        """Manage the other instances named by execute= alongside this one."""
        current = self.config.execute
        plans: list[tuple[str, str]] = []
        if action == "reload":
            plans += [(name, "stop") for name in previous if name not in current]
            plans += [(name, "reload" if name in previous else "start") for name in current]
        else:
            plans = [(name, action) for name in current]
        for name, verb in plans:
            argv = (sys.executable, "-m", "ldirectorpy", name, verb)
            result = await run_script(argv)
            if result.returncode != 0:
                log.warning("execute %s %s: %s", name, verb, result.reason)

    # -- status --------------------------------------------------------------------

    async def status_report(self, _command: str = "status") -> dict[str, Any]:
        try:
            kernel = await self.backend.dump(self.reconciler.owned)
        except IPVSError:
            kernel = self.reconciler.last.actual if self.reconciler.last else Table()
        snapshot = self.engine.snapshot()
        virtuals = []
        for spec in self.virtuals:
            present = kernel.destinations.get(spec.key, {})
            v = spec.virtual
            reals = []
            for real in spec.reals:
                status = snapshot.get(real.pair)
                in_kernel = present.get(real.dest.key)
                latency = status.latency if status is not None else None
                reals.append(
                    {
                        "real": str(real.dest.key),
                        "health": status.state.value if status is not None else "unknown",
                        "weight": real.dest.weight,
                        "kernel_weight": in_kernel.weight if in_kernel is not None else None,
                        "latency_ms": round(latency * 1000, 1) if latency is not None else None,
                        "reason": status.reason if status is not None else "",
                        "maintenance": bool(status.maintenance) if status is not None else False,
                    }
                )
            fallback = spec.fallback
            virtuals.append(
                {
                    "service": str(spec.key),
                    "scheduler": spec.service.scheduler,
                    "check": v.checktype
                    if v.checktype != "negotiate"
                    else f"negotiate/{v.service}",
                    "fallback": str(fallback.key) if fallback else None,
                    "fallback_active": bool(fallback and fallback.key in present),
                    "reals": reals,
                }
            )
        last = self.reconciler.last
        return {
            "pid": os.getpid(),
            "version": __version__,
            "state": self.state,
            "config": str(self.config_path),
            "config_error": self.config_error,
            "last_reconcile": (
                {"at": last.at, "writes": last.writes, "error": last.error} if last else None
            ),
            "virtuals": virtuals,
        }


def _virtual_id(daemon: Daemon, event: HealthEvent) -> str:
    for spec in daemon.virtuals:
        if spec.key == event.virtual:
            return f"{spec.virtual.protocol}:{virtual_str(spec.key)}"
    return str(event.virtual)


def _monitoring(virtuals: tuple[VirtualSpec, ...]) -> bool:
    """Does any virtual keep a monitorfile?"""
    return any(v.virtual.monitorfile for v in virtuals)
