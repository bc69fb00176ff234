"""E-mail alerts on state changes, as ldirectord sends them, but asynchronously.

Subject: the log message, prefixed `[servicename] ` when one is set. Body:
`ldirectorpy host:`, `Log-Message:`, `Daemon-Status:`, then the service name
and comment. Sent through the local MTA (`sendmail -t -oi`) or, with `smtp=`,
straight to HOST:25 with one RCPT TO per recipient (ldirectord passed the
whole comma-separated list as one recipient, reference §5.4 item 15).
"""

from __future__ import annotations

import asyncio
import getpass
import smtplib
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

SENDMAIL = "/usr/sbin/sendmail"
SMTP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Alert:
    recipients: tuple[str, ...]
    message: str  # the log line, e.g. "Quiescent real server: ..."
    daemon_status: str  # starting | running | stopping | reloading
    sender: str | None = None  # emailalertfrom
    servicename: str | None = None
    comment: str | None = None


def split_recipients(value: str) -> tuple[str, ...]:
    return tuple(addr.strip() for addr in value.split(",") if addr.strip())


def default_sender() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "root"
    return f"{user}@{socket.gethostname()}"


def compose(alert: Alert, hostname: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    prefix = f"[{alert.servicename}] " if alert.servicename else ""
    msg["Subject"] = prefix + alert.message
    msg["From"] = alert.sender or default_sender()
    msg["To"] = ", ".join(alert.recipients)
    lines = [
        f"ldirectorpy host: {hostname or socket.gethostname()}",
        f"Log-Message: {alert.message}",
        f"Daemon-Status: {alert.daemon_status}",
    ]
    if alert.servicename:
        lines.append(f"Service-Name: {alert.servicename}")
    if alert.comment:
        lines.append(f"Comment: {alert.comment}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _send_smtp(host: str, msg: EmailMessage, recipients: Sequence[str], port: int) -> None:
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
        smtp.send_message(msg, to_addrs=list(recipients))


async def send(alert: Alert, smtp_host: str | None = None, smtp_port: int = 25) -> str | None:
    """Send one alert; returns None on success or a one-line reason."""
    msg = compose(alert)
    if smtp_host:
        try:
            await asyncio.to_thread(_send_smtp, smtp_host, msg, alert.recipients, smtp_port)
        except (OSError, smtplib.SMTPException) as exc:
            return f"smtp {smtp_host}: {exc}"
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            SENDMAIL,
            "-t",
            "-oi",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return f"cannot run {SENDMAIL}: {exc.strerror}"
    try:
        async with asyncio.timeout(SMTP_TIMEOUT):
            _, err = await proc.communicate(msg.as_bytes())
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return f"{SENDMAIL} timed out"
    if proc.returncode != 0:
        return f"{SENDMAIL} exited {proc.returncode}: {err.decode(errors='replace').strip()}"
    return None
