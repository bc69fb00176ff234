"""load(): one file in, a model or diagnostics out; never an exception for bad input."""

from __future__ import annotations

import errno
import os
import stat

from ldirectorpy.config.build import build
from ldirectorpy.config.diagnostics import Loc, Sink
from ldirectorpy.config.model import LoadResult
from ldirectorpy.config.parser import parse_text
from ldirectorpy.config.resolve import Resolver, SystemResolver
from ldirectorpy.config.semantic import check_config, check_permissions

MAX_BYTES = 64 * 1024 * 1024

_WHY = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.ENOTDIR: "a path component is not a directory",
    errno.ENAMETOOLONG: "the name is too long",
}


def _why(exc: OSError) -> str:
    return _WHY.get(exc.errno or 0, exc.strerror or str(exc))


def load(path: str | os.PathLike[str], *, resolver: Resolver | None = None) -> LoadResult:
    name = os.fspath(path)
    sink = Sink(name)
    data = _read(name, sink)
    if data is None:
        return LoadResult(name, None, sink.finish())
    text = _decode(data, name, sink)
    if text is None:
        return LoadResult(name, None, sink.finish())
    parsed = parse_text(text, name, sink)
    config = build(parsed, resolver or SystemResolver(), sink)
    check_config(config, sink)
    return LoadResult(name, None if sink.has_errors else config, sink.finish())


def _read(name: str, sink: Sink) -> bytes | None:
    try:
        st = os.stat(name)
    except (OSError, ValueError) as exc:
        why = _why(exc) if isinstance(exc, OSError) else "an invalid path"
        sink.add("E001", None, f"cannot read the configuration: {why}")
        return None
    if stat.S_ISDIR(st.st_mode):
        sink.add("E002", None, "is a directory, not a configuration file")
        return None
    if not stat.S_ISREG(st.st_mode):
        sink.add("E002", None, "is not a regular file (a FIFO, socket or device?)")
        return None
    if st.st_size > MAX_BYTES:
        sink.add("E003", None, f"is {st.st_size} bytes; a configuration is at most {MAX_BYTES}")
        return None
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        sink.add("E001", None, f"cannot read the configuration: {_why(exc)}")
        return None
    if len(data) > MAX_BYTES:  # it grew while we looked
        sink.add("E003", None, f"is more than {MAX_BYTES} bytes")
        return None
    check_permissions(name, st, sink)
    return data


def _decode(data: bytes, name: str, sink: Sink) -> str | None:
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        col = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        sink.add(
            "E106",
            Loc(name, line, col),
            "the file contains NUL bytes; it is not a text configuration",
        )
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        sink.add(
            "W112",
            Loc(name, 1, 1),
            "the file starts with a UTF-8 byte order mark",
            "ldirectord reads it as part of the first directive; save without a BOM",
        )
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        sink.add(
            "W108",
            Loc(name, line, col),
            "bytes that are not valid UTF-8 (kept as they are)",
            "ldirectord reads bytes; values with these bytes are passed on unchanged",
        )
        return data.decode("utf-8", errors="surrogateescape")
