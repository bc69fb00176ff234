"""`ldirectorpy --check` judges a config the way the real ldirectord does.

The oracle is Debian's ldirectord (/usr/sbin/ldirectord). `ldirectord CONFIG status` parses the
whole file before anything else and exits 2 on a config error; with no daemon running it
otherwise exits 3. For every file in corpus/ both programs run in the same throw-away sandbox
(see sandbox.py: no network, private /var/log and /run, ipvsadm replaced by a tripwire), and
`ldirectorpy --check` must exit 2 exactly when ldirectord does, except for the deliberate
differences listed in DELIBERATE below, each with its reason and the diagnostic code that
tells the operator about it.

Each corpus file starts with two comment lines: what it exercises, and `# ldirectord: ok` or
`# ldirectord: error`, the oracle's verdict as the corpus author expects it (checked too, so a
broken sandbox or a changed ldirectord cannot make the comparison vacuous).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import oracle_sandbox as sandbox
import pytest

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REPO = HERE.parent.parent
LDIRECTORD = Path("/usr/sbin/ldirectord")
TIMEOUT = 60.0

Verdict = Literal["ok", "error"]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    path: Path
    summary: str
    ldirectord: Verdict  # what the corpus author expects the oracle to say


@dataclass(frozen=True, slots=True)
class Deliberate:
    """A place where ldirectorpy knowingly judges a file differently from ldirectord."""

    ldirectord: Verdict
    ldirectorpy: Verdict
    codes: frozenset[str]  # diagnostics ldirectorpy must report there (warning or error)
    reason: str


def _accepts(*codes: str, reason: str) -> Deliberate:
    """ldirectord rejects the file; ldirectorpy accepts it and says why it differs."""
    return Deliberate("error", "ok", frozenset(codes), reason)


def _rejects(*codes: str, reason: str) -> Deliberate:
    """ldirectord accepts the file; ldirectorpy refuses it with the given error."""
    return Deliberate("ok", "error", frozenset(codes), reason)


# The deliberate differences (issue 2, "Compatibility stance"). Key: corpus file name without
# .cf, or a generated case. Codes are ldirectorpy's (ldirectorpy/config/diagnostics.py).
DELIBERATE: dict[str, Deliberate] = {
    # Harmless syntax ldirectord rejects or misreads: accepted, with a warning to fix the file.
    "quirk-yes-trailing-comment": _accepts(
        "W103", reason="a trailing comment after a global yes/no is harmless"
    ),
    "quirk-yes-trailing-space": _accepts(
        "W102", reason="trailing whitespace after a global yes/no is harmless"
    ),
    "quirk-virtual-yes-trailing-comment": _accepts(
        "W102", reason="the space left before a cut comment in a virtual is harmless"
    ),
    "quirk-crlf-yes-no": _accepts("W101", reason="CRLF line ends (a file edited on Windows)"),
    "quirk-blank-line-in-virtual": _accepts(
        "W104", reason="a blank line inside a virtual section does not end it"
    ),
    "quirk-indented-global": _accepts(
        "W106", reason="an indented global line before any virtual means the same thing"
    ),
    "quirk-two-space-indent": _accepts(
        "W105", reason="a line indented by fewer than 4 columns under a virtual belongs to it"
    ),
    "quirk-fraction-below-one": _accepts(
        reason="sub-second intervals are allowed (contract 3: fractional seconds)"
    ),
    # Directives that exist only in ldirectorpy (contract 3).
    "new-risecount": _accepts(reason="risecount is an ldirectorpy addition"),
    "new-rdp-options": _accepts(reason="the rdp* check options are ldirectorpy additions"),
    "new-global-limits": _accepts(
        reason="maxprobes, maxexternalchecks and resyncinterval are ldirectorpy additions"
    ),
    "service-rdp": _accepts(reason="service rdp is an ldirectorpy addition"),
    # Files ldirectord accepts but would run wrongly or dangerously: refused.
    "checktype-external-missing-command": _rejects(
        "E304", reason="an external check whose program is missing fails every real forever"
    ),
    "real-duplicate": _rejects("E302", reason="a duplicate real server in one virtual"),
    "semantic-unknown-scheduler": _rejects(
        "E216", reason="ipvsadm would fail at start for a scheduler IPVS does not have"
    ),
    "semantic-threshold-lower-above-upper": _rejects(
        "E303", reason="a lower connection threshold above the upper one"
    ),
    "real-huge-weight": _rejects("E202", reason="IPVS cannot take a weight that large"),
    "generated-world-writable": _rejects(
        "E305", reason="root runs the commands a world-writable config names"
    ),
}


def _read_case(path: Path) -> Case:
    lines = path.read_bytes().split(b"\n")
    summary = lines[0].decode("utf-8", "replace").removeprefix("#").strip()
    m = re.fullmatch(rb"# ldirectord: (ok|error)\r?", lines[1] if len(lines) > 1 else b"")
    assert m, f"{path.name}: line 2 must be '# ldirectord: ok' or '# ldirectord: error'"
    verdict: Verdict = "ok" if m.group(1) == b"ok" else "error"
    return Case(path.stem, path, summary, verdict)


def _corpus() -> list[Case]:
    return [_read_case(p) for p in sorted(CORPUS.glob("*.cf"))]


CASES = _corpus()


# contract 2: `path:line:col: error|warning: message [code]`
_CODE_AT_END = r"^\S.*: (?:error|warning): .* \[([EW]\d{3})\]$"


@dataclass(frozen=True, slots=True)
class Pair:
    case: Case
    oracle: sandbox.Outcome
    ours: sandbox.Outcome

    @property
    def oracle_verdict(self) -> Verdict:
        return "error" if self.oracle.returncode == 2 else "ok"

    @property
    def our_verdict(self) -> Verdict:
        return "error" if self.ours.returncode == 2 else "ok"

    @property
    def our_codes(self) -> set[str]:
        printed = self.ours.stdout + self.ours.stderr
        return set(re.findall(_CODE_AT_END, printed, re.M))

    def both(self) -> str:
        return (
            f"--- ldirectord:\n{self.oracle.describe()}\n--- ldirectorpy:\n{self.ours.describe()}"
        )


def _run_pair(case: Case) -> Pair:
    oracle = sandbox.run(
        ["timeout", str(int(TIMEOUT)), str(LDIRECTORD), str(case.path), "status"],
        timeout=TIMEOUT + 5,
    )
    ours = sandbox.run(
        [sys.executable, "-m", "ldirectorpy", "--check", str(case.path)],
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return Pair(case, oracle, ours)


def _generated_cases(root: Path) -> Iterator[Case]:
    empty = root / "generated-empty.cf"
    empty.write_bytes(b"")
    yield Case("generated-empty", empty, "an empty file", "ok")
    world = root / "generated-world-writable.cf"
    shutil.copyfile(CORPUS / "basic-minimal.cf", world)
    world.chmod(0o666)
    yield Case("generated-world-writable", world, "a world-writable copy of basic-minimal", "ok")


GENERATED = ["generated-empty", "generated-world-writable"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    """Both programs on every case, a few at a time (ldirectord costs ~0.5 s of Perl start-up)."""
    if not LDIRECTORD.exists():
        pytest.fail(
            f"{LDIRECTORD} is missing: the differential test needs Debian's ldirectord "
            "(apt-get install ldirectord; scripts/setup installs it)",
            pytrace=False,
        )
    if trouble := sandbox.problems():
        pytest.fail("cannot sandbox ldirectord: " + "; ".join(trouble), pytrace=False)
    root = tmp_path_factory.mktemp("generated")
    root.chmod(0o755)
    cases = [*CASES, *_generated_cases(root)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return {p.case.name: p for p in pool.map(_run_pair, cases)}


def test_ldirectord_is_installed() -> None:
    assert LDIRECTORD.exists(), f"{LDIRECTORD} is missing: apt-get install ldirectord"
    assert os.access(LDIRECTORD, os.X_OK)


def test_the_corpus_is_large_and_mixed() -> None:
    assert len(CASES) >= 60
    verdicts = [c.ldirectord for c in CASES]
    assert verdicts.count("ok") >= 20
    assert verdicts.count("error") >= 20


_ALLOWED_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "198.18.0.0/15",
        "2001:db8::/32",
        "127.0.0.0/8",
    )
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_corpus_uses_only_documentation_addresses(case: Case) -> None:
    text = case.path.read_bytes().decode("utf-8", "replace")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    v4 = re.findall(r"(?<![\d.])(\d+\.\d+\.\d+\.\d+)(?![\d.])", body)
    v6 = re.findall(r"\[([0-9A-Fa-f:]+)\]", body)
    for literal in v4 + v6:
        try:
            addr = ipaddress.ip_address(literal)
        except ValueError:
            continue  # deliberately malformed addresses are fine
        if literal.startswith("255."):
            continue  # a netmask, not an address
        assert any(addr in net for net in _ALLOWED_NETS), f"{case.name}: {literal}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_ldirectord_reads_the_corpus_as_annotated(case: Case, pairs: dict[str, Pair]) -> None:
    pair = pairs[case.name]
    assert pair.oracle.returncode in (2, 3), pair.oracle.describe()
    assert pair.oracle_verdict == case.ldirectord, pair.oracle.describe()
    assert pair.oracle.ipvsadm_calls == "", "ldirectord status must never run ipvsadm"


@pytest.mark.parametrize("name", [c.name for c in CASES] + GENERATED)
def test_check_exits_2_exactly_when_ldirectord_does(name: str, pairs: dict[str, Pair]) -> None:
    pair = pairs[name]
    assert pair.oracle.returncode in (2, 3), pair.oracle.describe()
    assert pair.ours.returncode in (0, 2), pair.both()
    assert "Traceback" not in pair.ours.stderr, pair.both()
    difference = DELIBERATE.get(name)
    if difference is None:
        assert pair.our_verdict == pair.oracle_verdict, (
            f"ldirectorpy says {pair.our_verdict}, ldirectord says {pair.oracle_verdict}\n"
            + pair.both()
        )
        return
    assert pair.oracle_verdict == difference.ldirectord, pair.both()
    assert pair.our_verdict == difference.ldirectorpy, (
        f"deliberate difference ({difference.reason}) not shown\n" + pair.both()
    )
    missing = difference.codes - pair.our_codes
    assert not missing, f"expected {sorted(missing)} for: {difference.reason}\n" + pair.both()


def test_every_deliberate_difference_names_a_case() -> None:
    known = {c.name for c in CASES} | set(GENERATED)
    assert set(DELIBERATE) <= known, set(DELIBERATE) - known
    for name, difference in DELIBERATE.items():
        assert difference.reason, name
        assert difference.ldirectord != difference.ldirectorpy, name


def test_check_never_touches_ipvs_or_writes_files(pairs: dict[str, Pair]) -> None:
    """A linter has no side effects: no ipvsadm, no log or monitor files created."""
    for pair in pairs.values():
        assert pair.ours.ipvsadm_calls == "", pair.case.name
        assert pair.ours.var_log == (), f"{pair.case.name}: created {pair.ours.var_log}"
