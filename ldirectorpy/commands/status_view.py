"""Render the daemon's status report (the control socket's JSON) as text.

The report's shape, produced by the daemon:
  {"config_error": str | null, "last_reconcile": {"at", "writes", "error"},
   "virtuals": [{"service", "scheduler", "check", "fallback": str | null,
                 "fallback_active": bool,
                 "reals": [{"real", "health", "weight", "kernel_weight",
                            "latency_ms", "reason"}]}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

COLUMNS = ("REAL", "HEALTH", "WEIGHT", "KERNEL", "LATENCY", "REASON")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}ms"
    return str(value)


def _table(rows: Sequence[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(indent + "  ".join([*cells, row[-1]]).rstrip())
    return lines


def render(report: dict[str, Any] | None) -> str:
    if report is None:
        return "  (the daemon did not answer on its control socket)\n"
    if "error" in report:
        return f"  (the daemon could not report: {report['error']})\n"
    lines: list[str] = []
    if report.get("config_error"):
        lines.append("Configuration NOT reloaded, still running the previous one:")
        lines.append(f"  {report['config_error']}")
    last = report.get("last_reconcile") or {}
    if last.get("error"):
        lines.append(f"Last IPVS update failed: {last['error']}")
    for virtual in report.get("virtuals", []):
        reals = virtual.get("reals", [])
        up = sum(1 for real in reals if real.get("health") == "up")
        header = (
            f"Virtual service {virtual['service']} "
            f"({virtual.get('scheduler', '?')}, {virtual.get('check', '?')}): "
            f"{up}/{len(reals)} up"
        )
        if virtual.get("fallback"):
            state = "active" if virtual.get("fallback_active") else "standby"
            header += f", fallback {virtual['fallback']} {state}"
        lines.append(header)
        if reals:
            rows = [COLUMNS] + [
                (
                    _cell(real.get("real")),
                    _cell(real.get("health")),
                    _cell(real.get("weight")),
                    _cell(real.get("kernel_weight")),
                    _cell(real.get("latency_ms")),
                    _cell(real.get("reason")),
                )
                for real in reals
            ]
            lines.extend(_table(rows))
    return "".join(line + "\n" for line in lines)
