"""fallbackcommand and callback scripts run without a shell and never hang us."""

import os
import sys
import time

from ldirectorpy.notify.scripts import FallbackCommand, command_argv, run_script


def test_the_command_value_is_split_like_a_shell_would_without_one():
    assert command_argv("/usr/local/bin/fb --site 'a b'", "start", "192.0.2.1:80", "tcp") == (
        "/usr/local/bin/fb",
        "--site",
        "a b",
        "start",
        "192.0.2.1:80",
        "tcp",
    )


def test_fallbackcommand_runs_only_when_the_action_changes():
    fallback = FallbackCommand("/bin/fb", "192.0.2.1:3389", "tcp")
    assert fallback.argv_for("start") == ("/bin/fb", "start", "192.0.2.1:3389", "tcp")
    assert fallback.argv_for("start") is None
    assert fallback.argv_for("stop") == ("/bin/fb", "stop", "192.0.2.1:3389", "tcp")


async def test_a_script_gets_its_arguments_and_its_exit_status_is_reported(tmp_path):
    out = tmp_path / "args"
    code = f"import sys; open({str(out)!r}, 'w').write(' '.join(sys.argv[1:])); sys.exit(3)"
    result = await run_script([sys.executable, "-c", code, "start", "192.0.2.1:80", "tcp"])
    assert result.returncode == 3
    assert out.read_text() == "start 192.0.2.1:80 tcp"


async def test_a_missing_program_is_a_reason_not_an_exception(tmp_path):
    result = await run_script([str(tmp_path / "nope")])
    assert result.returncode is None
    assert "cannot run" in result.reason


async def test_an_overrunning_script_is_killed_with_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    # The script starts a grandchild in its process group, then hangs.
    code = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    started = time.monotonic()
    result = await run_script([sys.executable, "-c", code], timeout=1.0)
    assert time.monotonic() - started < 5
    assert result.returncode is None
    assert "killed" in result.reason
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the grandchild survived")
