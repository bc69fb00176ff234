"""service=mysql and pgsql: connect, run ``request`` as a query, up when it returns a row.

As ldirectord's DBI checks: ``login``/``passwd``/``database`` to the real on
the check port, the query is ``request`` without its leading ``/``, and up
means at least one row. ``receive`` is not used. Differences, on purpose:

- a deadline: ldirectord had none, so a hung database blocked the whole
  daemon (§5.4.8); here the probe's total deadline covers connect and query,
  and the driver's own timeouts are set to it as well;
- pgsql asks the server for the first row only; PyMySQL reads the whole
  result (its unbuffered cursor cannot stop early), so keep the mysql query
  small, as ldirectord's documentation implies (e.g. ``SELECT 1``);
- a driver error is a down verdict with the server's message, never a crash
  (ldirectord's misspelt error label could kill the daemon).

Drivers are optional extras, imported on first use: PyMySQL (``[mysql]``, a
blocking client run in a worker thread; after a deadline the thread ends on
the driver's own timeouts) and asyncpg (``[pgsql]``, native asyncio). Without
the driver the probe is down and says which extra to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from dataclasses import dataclass
from types import ModuleType

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["DRIVERS", "Query", "missing_driver", "probe"]

# service -> (module, extra)
DRIVERS = {"mysql": ("pymysql", "mysql"), "pgsql": ("asyncpg", "pgsql")}


@dataclass(frozen=True, slots=True)
class Query:
    """Who asks what: ldirectord's login, passwd, database and request."""

    login: str
    passwd: str
    database: str
    sql: str


def missing_driver(service: str) -> str:
    extra = DRIVERS[service][1]
    return f"service={service} needs the [{extra}] extra: pip install ldirectorpy[{extra}]"


def _driver(service: str) -> ModuleType | None:
    try:
        return importlib.import_module(DRIVERS[service][0])
    except ImportError:
        return None


def _mysql_first_row(driver: ModuleType, target: Target, query: Query, timeout: float) -> bool:
    """Blocking: runs in a worker thread."""
    try:
        conn = driver.connect(
            host=target.host,
            port=target.port,
            user=query.login,
            password=query.passwd,
            database=query.database or None,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
        )
    except driver.err.MySQLError as exc:
        raise ProbeFailure(f"connect: {_mysql_error(exc)}") from None
    try:
        with conn.cursor() as cursor:
            return bool(cursor.execute(query.sql))  # the row count, as DBI's execute
    except driver.err.MySQLError as exc:
        raise ProbeFailure(f"query: {_mysql_error(exc)}") from None
    finally:
        with contextlib.suppress(Exception):  # the verdict is known; a failed goodbye is not news
            conn.close()


def _mysql_error(exc: BaseException) -> str:
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int):
        return f"{args[1]} ({args[0]})"
    return str(exc) or exc.__class__.__name__


async def _mysql(
    driver: ModuleType, target: Target, query: Query, timeout: float, progress: Progress
) -> tuple[bool, str]:
    progress.stage = "MySQL"
    ok = await asyncio.to_thread(_mysql_first_row, driver, target, query, timeout)
    return ok, "query returned a row" if ok else "query returned no rows"


async def _pgsql(
    driver: ModuleType, target: Target, query: Query, timeout: float, progress: Progress
) -> tuple[bool, str]:
    progress.stage = "PostgreSQL connect"
    try:
        conn = await driver.connect(
            host=target.host,
            port=target.port,
            user=query.login,
            password=query.passwd,
            database=query.database or None,
            timeout=timeout,
        )
    except driver.PostgresError as exc:
        raise ProbeFailure(str(exc) or exc.__class__.__name__) from None
    try:
        progress.stage = "PostgreSQL query"
        row = await conn.fetchrow(query.sql)  # asyncpg asks the server for one row only
    except driver.PostgresError as exc:
        raise ProbeFailure(str(exc) or exc.__class__.__name__) from None
    finally:
        conn.terminate()  # no goodbye round trip
    return row is not None, "query returned a row" if row is not None else "query returned no rows"


async def probe(service: str, target: Target, timeout: float, query: Query) -> ProbeResult:
    """Run ``query`` on the ``service`` (mysql or pgsql) server ``target``."""
    driver = _driver(service)
    if driver is None:
        return ProbeResult(False, missing_driver(service), 0.0)
    body = _mysql if service == "mysql" else _pgsql
    return await bounded(timeout, lambda p: body(driver, target, query, timeout, p))
