"""The daemon commands' grammar is ldirectord's."""

import pytest

from ldirectorpy.commands.lifecycle import Invocation, UsageError, parse_args


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["start"], Invocation("start")),
        (["ldirectord.cf", "start"], Invocation("start", "ldirectord.cf")),
        (["/etc/ha.d/www.cf", "stop"], Invocation("stop", "/etc/ha.d/www.cf")),
        (["-d", "farm.cf", "start"], Invocation("start", "farm.cf", debug=True)),
        (["--debug", "--", "farm.cf", "start"], Invocation("start", "farm.cf", debug=True)),
        (["--", "-odd.cf", "status"], Invocation("status", "-odd.cf")),
        (["farm.cf", "status", "--json"], Invocation("status", "farm.cf", json=True)),
        (["--foreground", "start"], Invocation("start", foreground=True)),
        (["farm.cf", "stop", "--timeout", "5"], Invocation("stop", "farm.cf", stop_timeout=5.0)),
        (["farm.cf", "stop", "--timeout=2.5"], Invocation("stop", "farm.cf", stop_timeout=2.5)),
        (["force-reload"], Invocation("force-reload")),
        (["try-restart"], Invocation("try-restart")),
    ],
)
def test_accepted_forms(argv, expected):
    assert parse_args(argv) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no command"),
        (["farm.cf"], "unknown command"),
        (["farm.cf", "begin"], "unknown command"),
        (["a.cf", "b.cf", "start"], "too many"),
        (["-x", "start"], "unknown option -x"),
        (["stop", "--timeout", "soon"], "--timeout needs a number"),
        (["stop", "--timeout", "0"], "positive"),
    ],
)
def test_rejected_forms_say_why(argv, message):
    with pytest.raises(UsageError, match=message):
        parse_args(argv)
