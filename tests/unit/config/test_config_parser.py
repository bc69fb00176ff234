"""Reading ldirectord.cf: lexical rules, virtual and real forms, IPv6, fwmark."""

from __future__ import annotations

import dataclasses

import pytest
from cfgtest import V, codes, lint, virtual

from ldirectorpy.config import Forward, Protocol

TS = """\
checkinterval = 5
negotiatetimeout = 4
virtual = 192.0.2.100:3389
    real = 192.0.2.11:3389 gate
    scheduler = wlc
"""


def only(result):
    assert result.config is not None, result.diagnostics
    (v,) = result.config.virtuals
    return v


# -- lexical rules -------------------------------------------------------------


def test_crlf_file_means_the_same_as_lf():
    lf = only(lint(TS))
    r = lint(TS.replace("\n", "\r\n"), dedent=False)
    assert codes(r) == ["W101"]
    crlf = only(r)
    assert (crlf.scheduler, crlf.checkinterval, crlf.reals[0].address) == (
        lf.scheduler,
        lf.checkinterval,
        lf.reals[0].address,
    )


def test_tabs_indent_a_section():
    v = only(lint("virtual = 192.0.2.10:80\n\treal = 192.0.2.11:80 gate\n\tscheduler = rr\n"))
    assert v.scheduler == "rr"


def test_comment_lines_do_not_end_a_section():
    r = lint(V + "# a comment in column 0\n    # an indented one\n    scheduler = rr\n")
    assert codes(r) == []
    assert only(r).scheduler == "rr"


def test_a_blank_line_then_column_0_ends_the_section_quietly():
    r = lint(V + "\nautoreload = yes\n")
    assert codes(r) == []
    assert r.config is not None and r.config.autoreload is True


def test_a_blank_line_inside_a_section_is_bridged_with_a_warning():
    r = lint(V + "\n    scheduler = rr\n")
    (d,) = r.diagnostics
    assert (d.code, d.line) == ("W104", 3)
    assert only(r).scheduler == "rr"


def test_comment_after_a_value_in_a_section_is_removed():
    v = only(virtual("scheduler = rr # round robin\nchecktype = connect#no space"))
    assert (v.scheduler, v.checktype) == ("rr", "connect")


def test_hash_without_space_on_a_global_line_stays_in_the_value():
    r = lint("emailalertfrom = ops#1@example.com\n" + V)
    assert r.config is not None and r.config.emailalertfrom == "ops#1@example.com"


def test_spaces_around_equals_are_optional():
    v = only(lint("virtual=192.0.2.10:80\n    real=192.0.2.11:80 gate\n    scheduler=lc\n"))
    assert v.scheduler == "lc"


def test_directive_names_are_case_sensitive_with_a_hint():
    r = virtual("Scheduler = rr")
    (d,) = r.diagnostics
    assert d.code == "E101" and d.hint == "directives are lower case: 'scheduler'"


def test_quotes_optional_where_ldirectord_strips_them():
    v = only(virtual('checkcommand = "/bin/true"\nvirtualhost = "www.example.com"'))
    assert (v.checkcommand, v.virtualhost) == ("/bin/true", "www.example.com")


def test_verbatim_values_keep_their_quotes():
    r = virtual('comment = "hello"')
    assert codes(r) == ["W204"]
    assert only(r).comment == '"hello"'


def test_request_gets_a_leading_slash():
    assert only(virtual('request = "index.html"')).request == "/index.html"
    assert only(virtual('request = "/a b"')).request == "/a b"


def test_every_problem_in_one_pass():
    r = lint(
        "checkinterval = x\nfrobnicate = 1\n"
        "virtual = 192.0.2.10:80\n    real = 192.0.2.11:80 nat\n    scheduler = zz\n"
    )
    assert codes(r) == ["E201", "E101", "W303", "E207", "E216"]


def test_an_indented_virtual_line_is_an_error_but_parsing_goes_on():
    r = lint(V + "    virtual = 192.0.2.20:80\n    real = 192.0.2.21:80 gate\n    scheduler = x\n")
    assert codes(r) == ["E107", "E216"]


# -- virtual= ------------------------------------------------------------------


def test_virtual_by_host_name_and_service_name():
    v = only(lint("virtual = www.example.com:http\n    real = 192.0.2.11:80 gate\n"))
    assert (v.address, v.port, v.host, v.service, v.protocol) == (
        "192.0.2.80",
        80,
        "www.example.com",
        "http",
        Protocol.TCP,
    )


@pytest.mark.parametrize(("port", "protocol"), [("53", "udp"), ("domain", "udp"), ("80", "tcp")])
def test_protocol_defaults_from_the_port_as_written(port, protocol):
    v = only(lint(f"virtual = 192.0.2.53:{port}\n    real = 192.0.2.11 gate\n"))
    assert v.protocol == protocol


def test_explicit_protocol_wins():
    assert only(virtual("protocol = udp")).protocol is Protocol.UDP


def test_fwmark_virtual():
    v = only(lint("virtual = 7\n    real = 192.0.2.11 gate\n    service = http\n"))
    assert (v.fwmark, v.address, v.port, v.protocol, v.family) == (7, None, 0, Protocol.FWM, 4)
    assert v.reals[0].port == 0
    assert v.checkport_for(v.reals[0]) == 80  # the service's port
    assert str(v) == "fwm:7"


def test_fwmark_service_defaults_to_none():
    r = lint("virtual = 7\n    real = 192.0.2.11 gate\n    checktype = connect\n")
    assert only(r).service == "none"
    assert codes(r) == []  # connect checks do not need a service


def test_fwmark_accepts_protocol_fwm_only():
    assert only(lint("virtual = 7\n    real = 192.0.2.11 gate\n    protocol = fwm\n"
                     "    checktype = on\n")).protocol is Protocol.FWM  # fmt: skip
    r = lint("virtual = 7\n    real = 192.0.2.11 gate\n    protocol = tcp\n")
    assert "E213" in codes(r)


def test_ipv6_virtual_and_reals():
    r = lint(
        "virtual6 = [2001:DB8::0:80]:80\n"
        "    real6 = [2001:db8:1::11]:80 gate\n"
        "    real6 = [2001:db8:1::12] masq 3\n"
        "    real6 = ip6.example.com:8080 ipip\n"
        "    fallback6 = [2001:db8::ff]\n"
        "    persistent = 60\n    netmask = 64\n"
    )
    v = only(r)
    assert (v.family, v.address, v.port) == (6, "2001:db8::80", 80)
    assert [(x.address, x.port, x.forward) for x in v.reals] == [
        ("2001:db8:1::11", 80, Forward.GATE),
        ("2001:db8:1::12", 0, Forward.MASQ),
        ("2001:db8::80", 8080, Forward.IPIP),
    ]
    assert str(v.reals[0]) == "[2001:db8:1::11]:80"
    assert v.fallback is not None and (v.fallback.address, v.fallback.port) == ("2001:db8::ff", 80)
    assert str(v) == "tcp:[2001:db8::80]:80"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("virtual = [2001:db8::1]:80\n    real = 192.0.2.1 gate\n", "E210"),
        ("virtual6 = [2001:db8::1]:80\n    real = 192.0.2.1:80 gate\n", "E210"),
        ("virtual = 192.0.2.1:80\n    real6 = [2001:db8::2]:80 gate\n", "E210"),
        ("virtual6 = 192.0.2.1:80\n    real6 = [2001:db8::2]:80 gate\n", "E210"),
        ("virtual6 = [2001:db8::1]:80\n    real6 = [2001:db8::2]:80 gate\n"
         "    fallback = 192.0.2.9:80\n", "E210"),
        ("virtual6 = [2001:db8::1]:80\n    real6 = [2001:db8::2]->[2001:db8::3]:80 gate\n",
         "E208"),
        ("virtual6 = [2001:db8::1]:80\n    real6 = [2001:db8::2]:80 gate\n"
         "    persistent = 5\n    netmask = 129\n", "E211"),
        ("virtual6 = [2001:zz::1]:80\n    real6 = [2001:db8::2]:80 gate\n", "E204"),
    ],
)  # fmt: skip
def test_address_family_mistakes(text, code):
    r = lint(text)
    assert code in codes(r)
    assert r.config is None


# -- real= ---------------------------------------------------------------------


def test_real_defaults():
    (r,) = only(lint(V)).reals
    assert (r.address, r.port, r.forward, r.weight, r.request, r.receive, r.lower, r.upper) == (
        "192.0.2.11",
        80,
        Forward.GATE,
        1,
        None,
        None,
        0,
        0,
    )


def test_real_with_weight_request_receive_and_thresholds():
    v = only(virtual('real = 192.0.2.12:8080 masq 0 "health", "^OK$" l:10 u:200', real=False))
    (r,) = v.reals
    assert (r.port, r.forward, r.weight) == (8080, Forward.MASQ, 0)
    assert (r.request, r.receive, r.lower, r.upper) == ("/health", "^OK$", 10, 200)


@pytest.mark.parametrize(
    ("tail", "lower", "upper"), [("u:9", 0, 9), ("l:1 u:2", 1, 2), ("l:0", 0, 0)]
)
def test_thresholds_each_optional(tail, lower, upper):
    (r,) = only(virtual(f"real = 192.0.2.12 gate 2 {tail}", real=False)).reals
    assert (r.weight, r.lower, r.upper) == (2, lower, upper)


def test_request_and_receive_may_be_separated_by_a_space():
    (r,) = only(virtual('real = 192.0.2.12 gate "/a" "b"', real=False)).reals
    assert (r.request, r.receive) == ("/a", "b")


def test_request_without_receive_is_an_error():
    r = virtual('real = 192.0.2.12 gate "/a"', real=False)
    assert "E207" in codes(r)


def test_range_expands_across_an_octet_boundary():
    v = only(virtual("real = 198.18.0.254->198.18.1.1:80 gate", real=False))
    assert [r.address for r in v.reals] == ["198.18.0.254", "198.18.0.255", "198.18.1.0",
                                            "198.18.1.1"]  # fmt: skip
    assert {r.loc.line for r in v.reals} == {2}


def test_range_of_host_names():
    v = only(virtual("real = sql01->sql03:3306 gate 10", real=False))
    assert [(r.address, r.host, r.weight) for r in v.reals] == [
        ("198.51.100.1", "sql01", 10),
        ("198.51.100.2", "sql01", 10),
        ("198.51.100.3", "sql01", 10),
    ]


def test_real_port_may_be_a_service_name():
    (r,) = only(virtual("real = 192.0.2.12:smtp masq", real=False)).reals
    assert r.port == 25


def test_unknown_host_says_which():
    r = virtual("real = nosuch.example:80 gate", real=False)
    (d,) = [x for x in r.diagnostics if x.code == "E205"]
    assert "nosuch.example" in d.message


# -- derived settings ----------------------------------------------------------


def test_check_port_rule():
    v = only(virtual("real = 192.0.2.12 gate\nchecktype = connect"))
    with_port, without = v.reals
    assert v.checkport_for(with_port) == 80
    assert v.checkport_for(without) == 80  # the virtual's port
    v = only(virtual("checkport = 8081"))
    assert v.checkport_for(v.reals[0]) == 8081
    v = only(lint("virtual = 192.0.2.10:8080\n    real = 192.0.2.11 gate\n    service = http\n"))
    assert v.checkport_for(v.reals[0]) == 8080  # where IPVS sends it (ldirectord: 80)
    v = only(lint("virtual = 7\n    real = 192.0.2.11 gate\n    checktype = on\n"))
    assert v.checkport_for(v.reals[0]) is None  # service none has no port


def test_ftp_and_sip_login_defaults_apply_to_a_port_derived_service():
    ftp = only(lint("virtual = 192.0.2.10:21\n    real = 192.0.2.11:21 gate\n"))
    assert (ftp.service, ftp.login, ftp.passwd) == (
        "ftp",
        "anonymous",
        "ldirectord@director.example",
    )
    sip = only(lint("virtual = 192.0.2.10:5060\n    real = 192.0.2.11 gate\n"))
    assert (sip.service, sip.login) == ("sip", "ldirectord@director.example")
    explicit = only(lint("virtual = 192.0.2.10:21\n    real = 192.0.2.11 gate\n"
                         '    login = "me"\n'))  # fmt: skip
    assert (explicit.login, explicit.passwd) == ("me", "ldirectord@director.example")


def test_global_fallback_takes_the_virtuals_port():
    r = lint("fallback = sorry.example.com\n" + V)
    v = only(r)
    assert v.fallback is not None
    assert (v.fallback.address, v.fallback.port, v.fallback.forward) == (
        "198.51.100.250",
        80,
        Forward.GATE,
    )
    assert r.config is not None and r.config.fallback is not None
    assert r.config.fallback.port is None


def test_model_is_immutable_and_hashable():
    r = lint(TS)
    assert r.config is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.config.virtuals[0].scheduler = "rr"  # type: ignore[misc]
    assert isinstance(hash(r.config), int)  # usable as a dict key, e.g. across reloads
    assert len({v.key for v in r.config.virtuals}) == 1


def test_values_remember_where_they_were_written():
    r = lint(TS)
    v = only(r)
    assert v.loc.line == 3 and v.loc.col == 11
    assert v.reals[0].loc.line == 4
    assert v.where("scheduler") is not None and v.where("scheduler").line == 5  # type: ignore[union-attr]
    assert v.where("checkinterval") == r.config.where("checkinterval")  # type: ignore[union-attr]
    assert v.where("quiescent") is None


def test_virtual6_by_host_name():
    v = only(lint("virtual6 = ip6.example.com:https\n    real6 = [2001:db8::5] gate\n"))
    assert (v.family, v.address, v.port, v.service) == (6, "2001:db8::80", 443, "https")


def test_public_api_is_pinned():
    import ldirectorpy.config as api

    assert sorted(api.__all__) == [
        "Config", "Diagnostic", "Fallback", "Forward", "LoadResult", "Loc", "Protocol", "Real",
        "Resolver", "Severity", "StaticResolver", "SystemResolver", "Virtual", "find_config",
        "load",
    ]  # fmt: skip
    for name in api.__all__:
        assert getattr(api, name) is not None
