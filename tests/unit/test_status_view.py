"""`status` shows every virtual and real with health, kernel weight, latency and reason."""

from ldirectorpy.commands.status_view import render

REPORT = {
    "config_error": None,
    "last_reconcile": {"at": 0, "writes": 0, "error": None},
    "virtuals": [
        {
            "service": "TCP 192.0.2.10:3389",
            "scheduler": "wlc",
            "check": "negotiate/rdp",
            "fallback": "127.0.0.1:3389",
            "fallback_active": False,
            "reals": [
                {
                    "real": "192.0.2.11:3389",
                    "health": "up",
                    "weight": 1,
                    "kernel_weight": 1,
                    "latency_ms": 12.34,
                    "reason": "PROTOCOL_SSL selected; TLS 1.3 ok",
                },
                {
                    "real": "192.0.2.12:3389",
                    "health": "down",
                    "weight": 1,
                    "kernel_weight": 0,
                    "latency_ms": None,
                    "reason": "connect refused",
                },
            ],
        }
    ],
}


def test_table_lists_each_real_with_its_state():
    text = render(REPORT)
    lines = text.splitlines()
    assert lines[0] == (
        "Virtual service TCP 192.0.2.10:3389 (wlc, negotiate/rdp): 1/2 up, "
        "fallback 127.0.0.1:3389 standby"
    )
    assert lines[1].split() == ["REAL", "HEALTH", "WEIGHT", "KERNEL", "LATENCY", "REASON"]
    assert lines[2].split()[:5] == ["192.0.2.11:3389", "up", "1", "1", "12.3ms"]
    assert lines[2].endswith("PROTOCOL_SSL selected; TLS 1.3 ok")
    assert lines[3].split()[:5] == ["192.0.2.12:3389", "down", "1", "0", "-"]


def test_a_failed_reload_is_shown_first():
    text = render({**REPORT, "config_error": "/etc/ha.d/x.cf:7:5: error: bad weight [E210]"})
    assert text.splitlines()[:2] == [
        "Configuration NOT reloaded, still running the previous one:",
        "  /etc/ha.d/x.cf:7:5: error: bad weight [E210]",
    ]


def test_a_silent_daemon_is_said_so():
    assert "did not answer" in render(None)
