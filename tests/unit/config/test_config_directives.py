"""Every directive of the table: a value, its default, its scope, and an error path."""

from __future__ import annotations

import dataclasses

import pytest
from cfgtest import V, codes, lint, virtual

from ldirectorpy.config import Config, Fallback, Forward, Protocol, Virtual
from ldirectorpy.config import values as k
from ldirectorpy.config.directives import (
    DIRECTIVES,
    GLOBAL_SETTINGS,
    STRUCTURAL,
    VIRTUAL_SETTINGS,
    Scope,
)

FP = "AB:" * 31 + "AB"

# name: (value as written, value in the model, a bad value, the code it gets)
SAMPLES: dict[str, tuple[str, object, str | None, str | None]] = {
    "checkinterval": ("2.5", 2.5, "0", "E202"),
    "checktimeout": ("3", 3.0, "abc", "E201"),
    "negotiatetimeout": ("7", 7.0, "-1", "E201"),
    "checkcount": ("3", 3, "0", "E202"),
    "failurecount": ("3", 3, "0", "E202"),
    "risecount": ("2", 2, "x", "E201"),
    "checktype": ("connect", "connect", "negotiate2", "E212"),
    "service": ("ldap", "ldap", "htpp", "E203"),
    "checkcommand": ("/usr/bin/env", "/usr/bin/env", '""', "E218"),
    "checkport": ("8080", 8080, "70000", "E202"),
    "request": ('"x.html"', "/x.html", '""', "E218"),
    "receive": ('"OK"', "OK", '""', "E218"),
    "httpmethod": ("head", "HEAD", "POST", "E203"),
    "virtualhost": ("www.example.com", "www.example.com", '""', "E218"),
    "login": ('"user"', "user", '""', "E218"),
    "passwd": ('"pw"', "pw", '""', "E218"),
    "database": ('"db"', "db", '""', "E218"),
    "secret": ('"s3"', "s3", '""', "E218"),
    "load": ('"x"', "x", '""', "E218"),
    "rdpprotocols": ("rdp", ("rdp",), "tls", "E203"),
    "rdpcookie": ('""', "", None, None),
    "rdpnegfailure": ("down", "down", "maybe", "E203"),
    "rdptls": ("no", False, "nope", "E203"),
    "rdptlsfingerprint": (FP, "ab" * 32, "abc", "E215"),
    "rdptlsexpirywarn": ("0", 0, "x", "E201"),
    "scheduler": ("lblcr", "lblcr", "wlcc", "E216"),
    "persistent": ("600", 600, "0", "E202"),
    "netmask": ("255.255.255.0", "255.255.255.0", "255.0.255.0", "E211"),
    "schedflags": ("sh-port", ("sh-port",), "sh-prot", "E217"),
    "protocol": ("udp", Protocol.UDP, "sctp", "E203"),
    "ops": ("yes", True, "1", "E203"),
    "quiescent": ("yes", True, "Yes", "E203"),
    "readdquiescent": ("yes", True, "y", "E203"),
    "cleanstop": ("no", False, "nein", "E203"),
    "fallback": (
        "198.51.100.250:8080 masq",
        Fallback("198.51.100.250", 8080, Forward.MASQ, 4, None),  # type: ignore[arg-type]
        "198.51.100.250:80 nat",
        "E209",
    ),
    "fallback6": ("[2001:db8::1]:80", None, "[zz]:80", "E209"),
    "fallbackcommand": ("/usr/local/bin/sorry", "/usr/local/bin/sorry", '""', "E218"),
    "emailalert": (
        "a@example.com, b@example.com",
        ("a@example.com", "b@example.com"),
        '""',
        "E218",
    ),
    "emailalertfreq": ("60", 60, "x", "E201"),
    "emailalertstatus": (
        "starting, running",
        frozenset({"starting", "running"}),
        "none,all",
        "E214",
    ),
    "emailalertfrom": ("ops@example.com", "ops@example.com", "", "E218"),
    "smtp": ("mail.example.com", "mail.example.com", "@@", "E203"),
    "logfile": ('"local0"', "local0", '""', "E218"),
    "monitorfile": ("/var/log/m.log", "/var/log/m.log", '""', "E218"),
    "servicename": ("Web site", "Web site", "", "E218"),
    "comment": ("hello", "hello", None, None),
    "callback": ('"/usr/local/bin/cb"', "/usr/local/bin/cb", '""', "E218"),
    "autoreload": ("yes", True, "maybe", "E203"),
    "supervised": ("yes", True, "maybe", "E203"),
    "fork": ("yes", True, "maybe", "E203"),
    "maintenancedir": ("/etc", "/etc", "", "E218"),
    "execute": ("other.cf", ("other.cf",), "", "E218"),
    "maxprobes": ("10", 10, "0", "E202"),
    "maxexternalchecks": ("2", 2, "0", "E202"),
    "resyncinterval": ("0.5", 0.5, "0", "E202"),
    "connecttimeout": ("", None, "5", "E105"),
    "timeout": ("", None, "5", "E105"),
}
SETTABLE = [d for d in DIRECTIVES if d.name not in STRUCTURAL]
VALUED = [d for d in SETTABLE if not isinstance(d.kind, k.Removed)]
ONE_SCOPE = [d for d in SETTABLE if d.scope is not Scope.BOTH]
CAN_BE_BAD = [d for d in SETTABLE if SAMPLES[d.name][2] is not None]


def test_every_directive_has_a_sample():
    assert set(SAMPLES) == {d.name for d in SETTABLE}


def test_every_directive_is_documented():
    for d in DIRECTIVES:
        assert len(d.doc) > 20, d.name
        assert d.kind.describe()


def test_model_fields_are_the_table():
    virtual_fields = {f.name for f in dataclasses.fields(Virtual)}
    config_fields = {f.name for f in dataclasses.fields(Config)}
    assert {d.name for d in VIRTUAL_SETTINGS} - {"fallback6"} <= virtual_fields
    assert {d.name for d in GLOBAL_SETTINGS} <= config_fields
    assert {d.name for d in DIRECTIVES if d.scope is Scope.VIRTUAL} & config_fields == set()


def _value(obj: object, name: str) -> object:
    value = getattr(obj, name)
    if isinstance(value, Fallback):
        return dataclasses.replace(value, loc=None)  # type: ignore[arg-type]
    return value


@pytest.mark.parametrize("d", VALUED, ids=lambda d: d.name)
def test_value_is_read_in_its_scope(d):
    good, expected, _, _ = SAMPLES[d.name]
    if d.name == "fallback6":
        r = lint(f"fallback6 = {good}\n" + V)
        assert r.config is not None and r.config.fallback6 is not None
        assert (r.config.fallback6.address, r.config.fallback6.port) == ("2001:db8::1", 80)
        return
    if d.scope.in_virtual:
        r = virtual(f"{d.name} = {good}")
        assert r.config is not None, r.diagnostics
        assert _value(r.config.virtuals[0], d.name) == expected
        assert r.config.virtuals[0].where(d.name) is not None
    if d.scope.in_global:
        r = lint(f"{d.name} = {good}\n" + V)
        assert r.config is not None, r.diagnostics
        assert _value(r.config, d.name) == expected
        assert r.config.where(d.name) == r.config.where(d.name) is not None
        if d.scope is Scope.BOTH and d.name not in ("checktimeout", "negotiatetimeout"):
            assert _value(r.config.virtuals[0], d.name) == expected  # inherited


DEFAULTED = [d for d in VALUED if d.name not in ("service", "protocol", "fallback6")]


@pytest.mark.parametrize("d", DEFAULTED, ids=lambda d: d.name)
def test_default_is_the_tables(d):
    # service and protocol are derived from the virtual (see test_config_resolve)
    r = lint(V)
    assert r.config is not None
    v = r.config.virtuals[0]
    if d.scope.in_global:
        if d.name not in ("checktimeout", "negotiatetimeout"):
            assert getattr(r.config, d.name) == d.default
        assert r.config.where(d.name) is None
    if d.scope.in_virtual and d.name not in ("checktimeout", "negotiatetimeout"):
        assert getattr(v, d.name) == d.default
        assert v.where(d.name) is None


@pytest.mark.parametrize("d", ONE_SCOPE, ids=lambda d: d.name)
def test_wrong_scope_is_an_error(d):
    if d.scope is Scope.GLOBAL:
        r = virtual(f"{d.name} = 1")
        assert "E103" in codes(r)
    elif d.scope is Scope.VIRTUAL:
        r = lint(f"{d.name} = 1\n" + V)
        assert "E104" in codes(r)
    assert r.config is None


@pytest.mark.parametrize("d", CAN_BE_BAD, ids=lambda d: d.name)
def test_bad_value_is_reported_with_its_code(d):
    _, _, bad, code = SAMPLES[d.name]
    text = f"{d.name} = {bad}".rstrip()
    in_virtual = d.scope.in_virtual and d.name != "fallback6"  # fallback6 needs virtual6
    r = virtual(text) if in_virtual else lint(text + "\n" + V)
    assert code in codes(r), r.diagnostics
    assert r.config is None
    diag = next(x for x in r.diagnostics if x.code == code)
    assert diag.line >= 1 and diag.col >= 1


def test_numbers_report_their_range_in_the_hint():
    r = virtual("checkport = 0")
    (d,) = [x for x in r.diagnostics if x.code == "E202"]
    assert d.hint == "use an integer 1..65535"


def test_enum_errors_list_accepted_values():
    r = virtual("httpmethod = PUT")
    (d,) = [x for x in r.diagnostics if x.code == "E203"]
    assert d.hint is not None and "GET, HEAD" in d.hint


def test_deprecated_checkcount_warns_but_loads():
    r = lint("checkcount = 2\n" + V)
    assert codes(r) == ["W202"]
    assert r.config is not None and r.config.virtuals[0].checkcount == 2


def test_retired_directives_name_their_successor():
    r = lint("timeout = 5\n" + V)
    (d,) = r.diagnostics
    assert (d.code, d.line) == ("E105", 1)
    assert "checktimeout and negotiatetimeout" in d.message


def test_execute_may_repeat():
    r = lint("execute = a.cf\nexecute = b.cf\n" + V)
    assert r.config is not None and r.config.execute == ("a.cf", "b.cf")
    assert codes(r) == []


def test_a_repeated_setting_warns_and_the_last_wins():
    r = virtual("scheduler = rr\nscheduler = wlc")
    assert codes(r) == ["W110"]
    assert r.config is not None and r.config.virtuals[0].scheduler == "wlc"


def test_the_virtual_value_overrides_the_global_one():
    r = lint(
        "quiescent = yes\n" + V + "    quiescent = no\nvirtual = 192.0.2.20:80\n"
        "    real = 192.0.2.21:80 gate\n"
    )
    assert r.config is not None
    assert [v.quiescent for v in r.config.virtuals] == [False, True]
    assert r.config.virtuals[1].where("quiescent") == r.config.where("quiescent")


def test_checktype_number_is_combined_mode():
    r = virtual("checktype = 3")
    assert r.config is not None
    v = r.config.virtuals[0]
    assert (v.checktype, v.combined_connects) == ("combined", 3)


def test_emailalertstatus_all_and_none():
    r = virtual("emailalertstatus = none")
    assert r.config is not None and r.config.virtuals[0].emailalertstatus == frozenset()
    r = virtual("emailalertstatus = all")
    assert r.config is not None
    assert r.config.virtuals[0].emailalertstatus == {"starting", "running", "stopping", "reloading"}


def test_bare_supervised_means_yes_with_a_warning():
    r = lint("supervised\n" + V)
    assert codes(r) == ["W109"]
    assert r.config is not None and r.config.supervised is True


def test_logfile_facility_or_path():
    r = lint('logfile = "local0"\n' + V)
    assert r.config is not None and r.config.logfile_is_syslog
    r = lint('logfile = "/var/log/ld.log"\n' + V)
    assert r.config is not None and not r.config.logfile_is_syslog
