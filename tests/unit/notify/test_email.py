"""E-mail alerts: ldirectord's message, one RCPT per recipient."""

import asyncio

from ldirectorpy.notify.email import Alert, compose, send, split_recipients


def test_recipients_are_split_on_commas():
    assert split_recipients("ops@example.org, oncall@example.org,") == (
        "ops@example.org",
        "oncall@example.org",
    )


def test_subject_and_body_follow_ldirectord():
    alert = Alert(
        recipients=("ops@example.org",),
        message="Quiescent real server: 192.0.2.11:3389 (192.0.2.10:3389) (Weight set to 0)",
        daemon_status="running",
        sender="lvs@example.org",
        servicename="terminal servers",
        comment="farm A",
    )
    msg = compose(alert, hostname="director1")
    assert msg["Subject"] == "[terminal servers] " + alert.message
    assert msg["From"] == "lvs@example.org"
    body = msg.get_content()
    assert "ldirectorpy host: director1\n" in body
    assert f"Log-Message: {alert.message}\n" in body
    assert "Daemon-Status: running\n" in body
    assert "Service-Name: terminal servers\n" in body
    assert "Comment: farm A\n" in body


async def test_smtp_sends_one_rcpt_per_recipient():
    commands = []

    async def smtp_server(reader, writer):
        writer.write(b"220 test ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    writer.write(b"250 queued\r\n")
                continue
            commands.append(line.decode().strip())
            verb = line[:4].upper()
            if verb == b"DATA":
                in_data = True
                writer.write(b"354 go on\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(smtp_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    alert = Alert(("a@example.org", "b@example.org"), "Restored real server: x", "running", "f@x")
    try:
        assert await send(alert, smtp_host="127.0.0.1", smtp_port=port) is None
    finally:
        server.close()
        await server.wait_closed()
    rcpts = [c.upper() for c in commands if c.upper().startswith("RCPT TO")]
    assert rcpts == ["RCPT TO:<A@EXAMPLE.ORG>", "RCPT TO:<B@EXAMPLE.ORG>"]


async def test_an_unreachable_smtp_server_is_a_reason():
    alert = Alert(("a@example.org",), "x", "running", "f@x")
    reason = await send(alert, smtp_host="127.0.0.1", smtp_port=1)
    assert reason is not None
    assert reason.startswith("smtp 127.0.0.1")
