"""The namespace plumbing shared by the test rungs and the benchmarks."""

from __future__ import annotations

import os
import socket
import threading

from ldirectorpy import _netns


def net_ns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def test_inside_moves_only_this_thread_and_comes_back() -> None:
    home = net_ns_inode()
    name = _netns.new("unit")
    try:
        seen_by_other_thread: list[int] = []
        go = threading.Event()

        def report() -> None:
            go.wait(5)
            seen_by_other_thread.append(net_ns_inode())

        # A thread that exists already stays home (new threads would inherit).
        worker = threading.Thread(target=report)
        worker.start()
        with _netns.inside(name):
            inside = net_ns_inode()
            go.set()
            worker.join()
            # lo is up: 127/8 works in the new namespace.
            with socket.create_server(("127.0.0.1", 0)) as server:
                socket.create_connection(server.getsockname(), timeout=2).close()
        assert inside != home
        assert seen_by_other_thread == [home]
        assert net_ns_inode() == home
    finally:
        _netns.delete(name)
    assert not os.path.exists(f"/run/netns/{name}")
