"""A refused op is reported as the op the caller planned, even when a retry was sent.

An edit that meets ENOENT is retried as an add (backend.py); if the add is refused
too, the report must still name the edit, or the caller, which matches failures to
its plan, would count the edit as done.
"""

from __future__ import annotations

import errno

from ldirectorpy.ipvs.backend import OpFailure, ReportBuilder
from ldirectorpy.ipvs.errors import InvalidRequest, NotFound, request_error
from ldirectorpy.ipvs.memory import MemoryBackend
from ldirectorpy.ipvs.netlink import NetlinkBackend
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelService,
    EditDest,
    EditService,
)
from ldirectorpy.ipvs.types import AddressKey, Destination, Service

WEB = AddressKey.of("tcp", "192.0.2.10", 80)
REAL = Destination.of("198.51.100.7", 80, weight=3)
QUIESCED = Destination.of("198.51.100.7", 80, weight=0)


async def test_memory_an_edit_whose_service_vanished_fails_as_the_planned_edit() -> None:
    backend = MemoryBackend()
    assert (await backend.apply([AddService(Service(WEB, "rr")), AddDest(WEB, REAL)])).ok
    # Someone deletes the virtual (and so its real) between our dump and our write.
    assert (await backend.apply([DelService(WEB)])).ok
    planned = EditDest(WEB, QUIESCED)

    report = await backend.apply([planned])

    [failure] = report.errors
    assert failure.op is planned
    assert failure.retried_as == AddDest(WEB, QUIESCED)
    assert isinstance(failure.error, NotFound) and failure.error.errno == errno.ESRCH
    assert failure.error.what == "AddDest TCP 192.0.2.10:80 -> 198.51.100.7:80"
    assert report.writes == {"edit_dest": 1, "add_dest": 1}
    assert str(failure) == (
        "EditDest TCP 192.0.2.10:80 -> 198.51.100.7:80: not found, retried as AddDest: "
        "No such process"
    )
    assert backend.table.services == {}  # nothing was re-created behind the failure


async def test_memory_a_retry_that_succeeds_is_no_failure() -> None:
    backend = MemoryBackend()
    assert (await backend.apply([AddService(Service(WEB, "rr"))])).ok

    report = await backend.apply([EditDest(WEB, QUIESCED)])  # the real vanished alone

    assert report.ok and report.writes == {"edit_dest": 1, "add_dest": 1}
    assert backend.table.destinations[WEB] == {QUIESCED.key: QUIESCED}


async def test_memory_a_refusal_without_retry_names_only_the_op() -> None:
    backend = MemoryBackend()
    assert (await backend.apply([AddService(Service(WEB, "rr"))])).ok
    planned = EditDest(WEB, Destination.of("198.51.100.7", 80, upper=1, lower=5))

    [failure] = (await backend.apply([planned])).errors

    assert failure == OpFailure(planned, failure.error)
    assert failure.retried_as is None and isinstance(failure.error, InvalidRequest)
    assert str(failure) == (
        "EditDest TCP 192.0.2.10:80 -> 198.51.100.7:80: Numerical result out of range"
    )


async def test_netlink_carries_the_planned_op_through_its_retry_round() -> None:
    """A family id no kernel has: genetlink answers ENOENT to everything, so each
    edit is retried as an add in a second batch, and that add fails as well."""
    backend = NetlinkBackend(0x7FF0, timeout=5)
    edit_dest = EditDest(WEB, QUIESCED)
    edit_svc = EditService(Service(WEB, "rr"))
    try:
        report = await backend.apply([edit_dest, edit_svc])
    finally:
        backend.close()

    assert [(f.op, f.retried_as) for f in report.errors] == [
        (edit_dest, AddDest(WEB, QUIESCED)),
        (edit_svc, AddService(edit_svc.service)),
    ]
    assert report.errors[0].op is edit_dest and report.errors[1].op is edit_svc
    assert all(isinstance(f.error, NotFound) for f in report.errors)
    assert report.writes == {"edit_service": 1, "add_service": 1, "edit_dest": 1, "add_dest": 1}
    assert backend.dirty


def test_the_builder_records_a_failed_fallback_against_the_planned_op() -> None:
    builder = ReportBuilder()
    planned = EditDest(WEB, QUIESCED)
    gone = request_error(errno.ENOENT, "EditDest")

    retry = builder.outcome(planned, gone)
    assert retry == AddDest(WEB, QUIESCED)
    refused = request_error(errno.ESRCH, "AddDest")
    assert builder.outcome(retry, refused, planned=planned) is None

    assert builder.report().errors == (OpFailure(planned, refused, retried_as=retry),)
