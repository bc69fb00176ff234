"""The negotiate services as a whole: what is built, what config they read, and
that equal checks stay equal (one probe per distinct target)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from checks_loopback import open_fds, settled_fds, silent, tcp_server
from configured import config, specs
from dialogue_server import udp_responder

from ldirectorpy.checks import (
    LDIRECTORD_SERVICES,
    SERVICES,
    CheckSpec,
    Target,
    UnsupportedCheck,
    build_probe,
)


def test_every_ldirectord_service_but_oracle_is_built() -> None:
    assert set(SERVICES) == LDIRECTORD_SERVICES - {"oracle"}


@pytest.mark.parametrize("service", sorted(LDIRECTORD_SERVICES - {"oracle"}))
def test_each_service_builds_a_probe_from_a_plain_spec(service: str) -> None:
    request = "/http://www.example.org/" if service == "http_proxy" else "/SELECT 1"
    spec = CheckSpec(
        "negotiate", service, Target("192.0.2.5", 1), request=request, login="u", secret="s"
    )
    assert callable(build_probe(spec))


@pytest.mark.parametrize("checktype", ["negotiate", "3"])
def test_oracle_is_refused_alone_and_combined(checktype: str) -> None:
    with pytest.raises(UnsupportedCheck) as info:
        build_probe(CheckSpec(checktype, "oracle", Target("192.0.2.5", 1521)))
    assert info.value.service == "oracle"
    assert "service=oracle is not supported by ldirectorpy" in str(info.value)


def test_http_reads_httpmethod_and_virtualhost_but_no_login(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "virtual=192.0.2.10:80\n\treal=198.51.100.5:80 gate\n\tservice=http\n"
        '\thttpmethod=head\n\tvirtualhost="www.example.org"\n\tlogin="nobody"\n'
        '\trequest="/health"\n\treceive="ok"\n',
    )
    (spec,) = specs(cfg)
    assert (spec.httpmethod, spec.virtualhost, spec.request, spec.receive) == (
        "HEAD", "www.example.org", "/health", "ok"
    )  # fmt: skip
    assert (spec.login, spec.passwd, spec.database, spec.secret) == ("", "", "", "")


def test_sql_radius_and_ftp_read_their_options(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "virtual=192.0.2.10:3306\n\treal=198.51.100.5:3306 gate\n\tservice=mysql\n"
        '\tlogin="probe"\n\tpasswd="pw"\n\tdatabase="app"\n\tsecret="nope"\n'
        "virtual=192.0.2.10:1812\n\tprotocol=udp\n\treal=198.51.100.5:1812 gate\n"
        '\tservice=radius\n\tlogin="probe"\n\tpasswd="pw"\n\tsecret="s3cret"\n\tdatabase="x"\n'
        "virtual=192.0.2.10:21\n\treal=198.51.100.5:21 gate\n\tservice=ftp\n",
    )
    mysql, radius, ftp = specs(cfg)
    assert (mysql.login, mysql.passwd, mysql.database, mysql.secret) == ("probe", "pw", "app", "")
    assert (radius.login, radius.passwd, radius.database, radius.secret) == (
        "probe", "pw", "", "s3cret"
    )  # fmt: skip
    assert ftp.login == "anonymous"  # ldirectord's default, from the config
    assert ftp.passwd.startswith("ldirectord@")


def test_options_of_other_services_do_not_split_a_shared_target(tmp_path: Path) -> None:
    # Two virtuals check the same real with the same smtp check; a login set
    # on one of them means nothing to smtp and must not make a second probe.
    cfg = config(
        tmp_path,
        "virtual=192.0.2.10:25\n\treal=198.51.100.5:25 gate\n\tservice=smtp\n"
        '\tlogin="probe"\n\tvirtualhost="mx.example.org"\n'
        "virtual=192.0.2.11:25\n\treal=198.51.100.5:25 gate\n\tservice=smtp\n",
    )
    first, second = specs(cfg)
    assert first == second
    assert len({first, second}) == 1


def test_connect_checks_carry_no_service_options(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "virtual=192.0.2.10:80\n\treal=198.51.100.5:80 gate\n\tservice=http\n"
        '\tchecktype=connect\n\tvirtualhost="www.example.org"\n',
    )
    (spec,) = specs(cfg)
    assert (spec.httpmethod, spec.virtualhost) == ("", "")


def test_combined_checks_keep_the_negotiate_options(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "virtual=192.0.2.10:80\n\treal=198.51.100.5:80 gate\n\tservice=http\n"
        '\tchecktype=5\n\tvirtualhost="www.example.org"\n',
    )
    (spec,) = specs(cfg)
    assert (spec.checktype, spec.httpmethod, spec.virtualhost) == ("5", "GET", "www.example.org")


# One service per client module that holds a socket while it waits (simpletcp
# half-closes, so a silent server would end it; its socket code is _stream's).
CANCELLED = ["http", "https", "smtp", "pop", "imaps", "nntp", "ftp", "ldap", "dns", "pgsql",
             "sip"]  # fmt: skip


@pytest.mark.parametrize("service", CANCELLED)
async def test_cancelled_probes_close_their_sockets(service: str) -> None:
    async with tcp_server(silent) as port:
        spec = CheckSpec(
            "negotiate", service, Target("127.0.0.1", port), protocol="tcp",
            request="/SELECT 1", login="u", secret="s", negotiatetimeout=30.0,
        )  # fmt: skip
        before = open_fds()
        probes = [build_probe(spec) for _ in range(10)]
        tasks = [asyncio.ensure_future(p()) for p in probes if p is not None]
        await asyncio.sleep(0.2)
        assert open_fds() > before  # they really are holding sockets
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(t.cancelled() for t in tasks)
        assert await settled_fds(before) == before


@pytest.mark.parametrize("service", ["dns", "radius", "sip", "simpletcp"])
async def test_cancelled_udp_probes_close_their_sockets(service: str) -> None:
    async with udp_responder(lambda _request: []) as (port, _):
        spec = CheckSpec(
            "negotiate", service, Target("127.0.0.1", port), protocol="udp",
            request="/www.example.org", receive="x", login="u", secret="s",
            negotiatetimeout=30.0,
        )  # fmt: skip
        before = open_fds()
        probes = [build_probe(spec) for _ in range(10)]
        tasks = [asyncio.ensure_future(p()) for p in probes if p is not None]
        await asyncio.sleep(0.2)
        assert open_fds() >= before + 10
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(t.cancelled() for t in tasks)
        await asyncio.sleep(0)  # transports close on the next loop turn
        assert open_fds() == before
