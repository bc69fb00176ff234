"""sd_notify without a library."""

import socket

import pytest

from ldirectorpy.daemon.sdnotify import Notifier, watchdog_interval


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert notifier.send(ready=1) is False


def test_messages_arrive_as_one_datagram(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        assert Notifier(path).send(ready=1, status="6/6 real servers up")
        assert server.recv(4096) == b"READY=1\nSTATUS=6/6 real servers up"


def test_abstract_socket_addresses_start_with_at():
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0ldirectorpy-test-notify")
        assert Notifier("@ldirectorpy-test-notify").send(stopping=1)
        assert server.recv(4096) == b"STOPPING=1"


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [("", "", None), ("0", "", None), ("10000000", "", 5.0), ("10000000", "1", None)],
)
def test_watchdog_interval_is_half_the_period_for_this_process(monkeypatch, usec, pid, expected):
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    monkeypatch.setenv("WATCHDOG_PID", pid)
    assert watchdog_interval() == expected
