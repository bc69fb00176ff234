"""Errors of the IPVS layer.

    IPVSError
     ├── IPVSUnavailable      the kernel has no IPVS: load the ip_vs module
     ├── IPVSPermissionError  changing IPVS needs CAP_NET_ADMIN (run as root)
     ├── IPVSTimeout          a kernel call missed its deadline; the socket is recreated
     ├── IPVSProtocolError    a reply we cannot parse (a bug here, or a kernel surprise)
     └── IPVSRequestError     the kernel refused one request (carries errno and the op)
          ├── AlreadyExists    EEXIST: counted as done for an add
          ├── NotFound         ENOENT/ESRCH: counted as done for a delete
          └── InvalidRequest   EINVAL/ERANGE: a value the kernel will not take

`apply()` never raises `IPVSRequestError`; it reports it. The others end a call.
"""

from __future__ import annotations

import errno
import os


class IPVSError(Exception):
    """Base of every error this package raises."""


class IPVSUnavailable(IPVSError):
    def __init__(self, detail: str = "") -> None:
        message = "the kernel has no IPVS: load the ip_vs module"
        super().__init__(f"{message} ({detail})" if detail else message)


class IPVSPermissionError(IPVSError):
    def __init__(self) -> None:
        super().__init__("changing IPVS needs CAP_NET_ADMIN: run as root")


class IPVSTimeout(IPVSError):
    pass


class IPVSProtocolError(IPVSError):
    pass


class IPVSRequestError(IPVSError):
    def __init__(self, code: int, what: str) -> None:
        self.errno = code
        self.what = what
        super().__init__(f"{what}: {os.strerror(code)}")


class AlreadyExists(IPVSRequestError):
    pass


class NotFound(IPVSRequestError):
    pass


class InvalidRequest(IPVSRequestError):
    pass


def request_error(code: int, what: str) -> IPVSRequestError:
    """The typed error for a negative errno the kernel answered with."""
    if code == errno.EEXIST:
        return AlreadyExists(code, what)
    if code in (errno.ENOENT, errno.ESRCH):
        return NotFound(code, what)
    if code in (errno.EINVAL, errno.ERANGE):
        return InvalidRequest(code, what)
    return IPVSRequestError(code, what)
