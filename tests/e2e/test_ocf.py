"""The OCF resource agent (contrib/ocf/ldirectorpy) driven as pacemaker drives it.

Pacemaker runs an agent with the action as $1 and everything else in the
environment (OCF_ROOT, OCF_RESOURCE_INSTANCE, OCF_RESKEY_<parameter>,
OCF_RESKEY_CRM_meta_*), and reads only its exit code: 0 success, 1 generic
error, 2 bad arguments, 3 unimplemented, 5 not installed, 6 misconfigured,
7 not running. Here it manages ldirectorpy in front of the farm of six xrdp
servers (farm.py) in the real-kernel guest; what it claims is read back from the
kernel's IPVS table and from the daemon's pid file.

The actions and the lifecycle run twice: with resource-agents' ocf-shellfuncs
(by the agent's #!/bin/sh, dash on Debian), and without them (OCF_ROOT empty)
under busybox's sh, so the agent's own fallbacks and its POSIX-ness are
exercised. The failure paths (a crashed daemon, a wedged one) run in the second
mode only, and resource-agents' ocf-tester runs its own compliance sequence.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from farm import ALL_UP, PORT, REALS, SETTLE, VIP, Farm, config_text, reloaded, sh, until

AGENT = Path(__file__).resolve().parents[2] / "contrib" / "ocf" / "ldirectorpy"
BINARY = Path(sys.executable).parent / "ldirectorpy"
SHELLFUNCS_ROOT = Path("/usr/lib/ocf")
RA_API_DTD = Path("/usr/share/resource-agents/ra-api-1.dtd")
OCF_TESTER = Path("/usr/sbin/ocf-tester")
IPVSADM = "/usr/sbin/ipvsadm"

OCF_SUCCESS = 0
OCF_ERR_GENERIC = 1
OCF_ERR_ARGS = 2
OCF_ERR_UNIMPLEMENTED = 3
OCF_ERR_INSTALLED = 5
OCF_ERR_CONFIGURED = 6
OCF_NOT_RUNNING = 7


@dataclass(frozen=True, slots=True)
class Mode:
    """How the agent is run: which shell, and whether ocf-shellfuncs is there."""

    name: str
    shell: tuple[str, ...]
    ocf_root: Path | None  # None: an empty directory (no resource-agents)


MODES = (
    Mode("with-resource-agents", (), SHELLFUNCS_ROOT),
    Mode("standalone-busybox", ("busybox", "sh"), None),
)


@pytest.fixture(params=MODES, ids=[m.name for m in MODES])
def mode(request: pytest.FixtureRequest) -> Mode:
    chosen: Mode = request.param
    if (
        chosen.ocf_root is not None
        and not (chosen.ocf_root / "lib/heartbeat/ocf-shellfuncs").exists()
    ):
        pytest.skip("resource-agents is not installed (scripts/setup installs it)")
    if chosen.shell and shutil.which(chosen.shell[0]) is None:
        pytest.skip(f"{chosen.shell[0]} is not installed")
    return chosen


class Agent:
    """`agent(action, **params)`: one run of the resource agent, as pacemaker's executor does."""

    def __init__(self, farm: Farm, mode: Mode, ocf_root: Path) -> None:
        self.farm = farm
        self.mode = mode
        self.ocf_root = ocf_root

    def __call__(
        self, action: str | None, *, interval_ms: int = 20000, **params: str
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **self.farm.env,
            "OCF_ROOT": str(self.ocf_root),
            "OCF_RA_VERSION_MAJOR": "1",
            "OCF_RA_VERSION_MINOR": "0",
            "OCF_RESOURCE_INSTANCE": "lvs",
            "OCF_RESOURCE_TYPE": "ldirectorpy",
            "OCF_RESKEY_CRM_meta_timeout": "120000",
            "OCF_RESKEY_CRM_meta_interval": str(interval_ms),
            "OCF_RESKEY_configfile": str(self.farm.config),
            "OCF_RESKEY_binary": str(BINARY),
        }
        for name, value in params.items():
            key = name if name.startswith("OCF_") else f"OCF_RESKEY_{name}"
            env[key] = value
        argv = [*self.mode.shell, str(AGENT), *([action] if action else [])]
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=300, check=False
        )


@pytest.fixture
def director(topology: Farm) -> Iterator[Farm]:
    """The farm's director, stopped with an empty table and the standard
    configuration, and left that way."""
    farm = topology

    def reset() -> None:
        if farm.running():
            farm.cli("stop")
        sh(IPVSADM, "-C")
        farm.write_config(config_text(farm.root))

    reset()
    yield farm
    reset()


def make_agent(farm: Farm, mode: Mode, tmp_path: Path) -> Agent:
    empty_root = tmp_path / "no-resource-agents"
    empty_root.mkdir()
    return Agent(farm, mode, mode.ocf_root or empty_root)


@pytest.fixture
def agent(director: Farm, mode: Mode, tmp_path: Path) -> Agent:
    """The agent in each mode."""
    return make_agent(director, mode, tmp_path)


@pytest.fixture
def plain_agent(director: Farm, tmp_path: Path) -> Agent:
    """The agent in the mode that needs nothing installed, for the failure paths:
    they do not depend on the mode, and each costs a minute of guest time."""
    return make_agent(director, MODES[1], tmp_path)


def rc(done: subprocess.CompletedProcess[str]) -> int:
    """The exit code, with the agent's stderr in the assertion message when it differs."""
    print(done.stderr, end="")
    return done.returncode


def vip_in_table(farm: Farm) -> bool:
    return f"{VIP}:{PORT}" in farm.table()


# -- the actions that need no daemon ---------------------------------------------


def test_meta_data_describes_the_agent_in_ocf_xml(agent: Agent) -> None:
    done = agent("meta-data")
    assert rc(done) == OCF_SUCCESS
    root = ET.fromstring(done.stdout)
    assert root.tag == "resource-agent" and root.get("name") == "ldirectorpy"
    assert root.findtext("version") == "1.0"  # the OCF version it follows
    assert root.findtext("shortdesc") and root.findtext("longdesc")
    params = {p.get("name"): p for p in root.iter("parameter")}
    assert set(params) == {"configfile", "binary", "stop_timeout"}
    defaults = {name: p.find("content").get("default") for name, p in params.items()}  # type: ignore[union-attr]
    assert defaults["configfile"] == "/etc/ha.d/ldirectord.cf"  # as ocf:heartbeat:ldirectord
    assert defaults["binary"] == "ldirectorpy"
    assert params["configfile"].get("unique") == "1"  # one resource per file
    actions = {a.get("name") for a in root.iter("action")}
    assert {"start", "stop", "monitor", "reload", "meta-data", "validate-all"} <= actions
    assert all(a.get("timeout") for a in root.iter("action"))


@pytest.mark.skipif(
    shutil.which("xmllint") is None or not RA_API_DTD.exists(),
    reason="needs xmllint (libxml2-utils) and ra-api-1.dtd (resource-agents)",
)
def test_meta_data_is_valid_against_the_ra_api_dtd(agent: Agent) -> None:
    done = agent("meta-data")
    lint = subprocess.run(
        ["xmllint", "--noout", "--valid", "-"],
        input=done.stdout,
        capture_output=True,
        text=True,
        cwd=RA_API_DTD.parent,  # the DOCTYPE names ra-api-1.dtd relative to here
        check=False,
    )
    assert lint.returncode == 0, lint.stderr


def test_usage_and_unknown_actions(agent: Agent) -> None:
    usage = agent("usage")
    assert rc(usage) == OCF_SUCCESS and "usage:" in usage.stdout
    assert rc(agent(None)) == OCF_ERR_ARGS
    assert rc(agent("migrate_to")) == OCF_ERR_UNIMPLEMENTED


def test_validate_all_runs_the_config_check(agent: Agent) -> None:
    farm = agent.farm
    assert rc(agent("validate-all")) == OCF_SUCCESS
    broken = farm.root / "broken.cf"
    broken.write_text(config_text(farm.root) + "    weight = heavy\n")
    done = agent("validate-all", configfile=str(broken))
    assert rc(done) == OCF_ERR_CONFIGURED
    # The diagnostic, with its place, is logged; pacemaker shows the reason.
    assert f"{broken}:" in done.stderr and ": error: " in done.stderr
    assert "ocf-exit-reason:" in done.stderr
    supervised = farm.root / "supervised.cf"
    supervised.write_text("supervised = yes\n" + config_text(farm.root))
    assert rc(agent("validate-all", configfile=str(supervised))) == OCF_ERR_CONFIGURED
    assert rc(agent("validate-all", stop_timeout="soon")) == OCF_ERR_CONFIGURED
    missing = agent("validate-all", configfile=str(farm.root / "missing.cf"))
    assert rc(missing) == OCF_ERR_INSTALLED
    assert rc(agent("validate-all", binary="/nonexistent/ldirectorpy")) == OCF_ERR_INSTALLED


def test_monitor_of_a_stopped_resource_is_not_running(agent: Agent) -> None:
    stopped = agent("monitor")
    assert rc(stopped) == OCF_NOT_RUNNING
    assert "ERROR" not in stopped.stderr
    # A probe on a node without the command: not running here.
    no_command = "/nonexistent/ldirectorpy"
    assert rc(agent("monitor", interval_ms=0, binary=no_command)) == OCF_NOT_RUNNING
    assert rc(agent("monitor", binary=no_command)) == OCF_ERR_INSTALLED
    assert rc(agent("stop", binary=no_command)) == OCF_SUCCESS


# -- the lifecycle ------------------------------------------------------------------


def test_the_lifecycle_as_pacemaker_drives_it(agent: Agent) -> None:
    farm = agent.farm
    assert rc(agent("monitor", interval_ms=0)) == OCF_NOT_RUNNING  # the initial probe
    assert rc(agent("start")) == OCF_SUCCESS
    assert farm.running()
    until(lambda: farm.weights() == ALL_UP, SETTLE, lambda: f"programmed: {farm.table()}")
    pid = farm.pid()
    assert rc(agent("start")) == OCF_SUCCESS, "starting a started resource succeeds"
    assert farm.pid() == pid, "and starts no second daemon"
    assert rc(agent("monitor")) == OCF_SUCCESS
    assert (
        rc(agent("monitor", OCF_RESKEY_OCF_CHECK_LEVEL="10")) == OCF_SUCCESS
    )  # the daemon answers

    # reload: the daemon re-reads the file and applies only the difference.
    farm.write_config(config_text(farm.root, REALS[:5]))
    mark = farm.log_mark()
    assert rc(agent("reload")) == OCF_SUCCESS
    reloaded(farm, mark)
    until(
        lambda: farm.weights() == dict.fromkeys(REALS[:5], 1), SETTLE, lambda: str(farm.weights())
    )
    assert farm.pid() == pid

    # A broken file fails neither the reload nor the resource: logged, old config kept.
    before = farm.table()
    farm.write_config(config_text(farm.root, REALS[:4]) + "    weight = heavy\n")
    mark = farm.log_mark()
    broken = agent("reload")
    assert rc(broken) == OCF_SUCCESS
    assert ": error: " in broken.stderr and "keeps its previous configuration" in broken.stderr
    until(lambda: "Configuration not reloaded" in farm.log_since(mark), SETTLE, "error logged")
    assert farm.table() == before and farm.pid() == pid
    assert rc(agent("monitor")) == OCF_SUCCESS

    assert rc(agent("stop")) == OCF_SUCCESS
    assert not farm.running()
    assert not vip_in_table(farm), "cleanstop=yes: the virtual service is removed"
    assert rc(agent("stop")) == OCF_SUCCESS, "stopping a stopped resource succeeds"
    assert rc(agent("monitor")) == OCF_NOT_RUNNING


def test_a_crashed_daemon_is_a_failure_not_a_clean_stop(plain_agent: Agent) -> None:
    agent = plain_agent
    farm = agent.farm
    assert rc(agent("start")) == OCF_SUCCESS
    until(lambda: farm.weights() == ALL_UP, SETTLE, lambda: str(farm.weights()))
    os.kill(farm.pid(), signal.SIGKILL)
    until(lambda: rc(agent("monitor")) != OCF_SUCCESS, SETTLE, "the death seen")
    crashed = agent("monitor")
    assert rc(crashed) == OCF_ERR_GENERIC  # OCF: not running because of an error
    assert "has died" in crashed.stderr
    # Pacemaker's recovery: stop (clears the stale pid file), then start.
    assert rc(agent("stop")) == OCF_SUCCESS
    assert rc(agent("monitor")) == OCF_NOT_RUNNING
    assert rc(agent("start")) == OCF_SUCCESS
    until(lambda: farm.weights() == ALL_UP, SETTLE, lambda: str(farm.weights()))
    assert rc(agent("stop")) == OCF_SUCCESS


def test_a_wedged_daemon_fails_the_deep_monitor_and_is_killed_on_stop(
    plain_agent: Agent,
) -> None:
    agent = plain_agent
    farm = agent.farm
    assert rc(agent("start")) == OCF_SUCCESS
    until(lambda: farm.weights() == ALL_UP, SETTLE, lambda: str(farm.weights()))
    pid = farm.pid()
    os.kill(pid, signal.SIGSTOP)  # a wedged daemon: SIGTERM is never acted on
    try:
        # Its process lives (depth 0); only the deeper check sees it does not answer.
        assert rc(agent("monitor")) == OCF_SUCCESS
        wedged = agent("monitor", OCF_RESKEY_OCF_CHECK_LEVEL="10")
        assert rc(wedged) == OCF_ERR_GENERIC and "does not answer" in wedged.stderr
        done = agent("stop", stop_timeout="3")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert rc(done) == OCF_SUCCESS
    assert f"pid {pid}" in done.stderr and "killing it" in done.stderr
    assert not farm.running()
    assert rc(agent("monitor")) == OCF_NOT_RUNNING
    # Killed, it cleaned nothing up: the table stays as it was, as the log says.
    assert farm.weights() == ALL_UP


@pytest.mark.skipif(not OCF_TESTER.exists(), reason="needs ocf-tester (resource-agents)")
def test_ocf_tester_passes(director: Farm) -> None:
    """resource-agents' own compliance run: meta-data against the DTD, probes,
    start/stop twice, monitor after each, reload."""
    done = subprocess.run(
        [
            str(OCF_TESTER),
            "-n",
            "lvs",
            "-o",
            f"configfile={director.config}",
            "-o",
            f"binary={BINARY}",
            str(AGENT),
        ],
        capture_output=True,
        text=True,
        env={**director.env, "OCF_ROOT": str(SHELLFUNCS_ROOT)},
        timeout=900,
        check=False,
    )
    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout
