"""The control socket answers status as JSON, to root only."""

import asyncio
import stat

from ldirectorpy.daemon.control import request, serve


async def test_status_is_answered_as_json(tmp_path):
    seen = []

    async def handler(command):
        seen.append(command)
        return {"running": True, "virtuals": []}

    path = tmp_path / "ctl.sock"
    server = await serve(path, handler)
    try:
        reply = await asyncio.to_thread(request, path)
    finally:
        server.close()
        await server.wait_closed()
    assert reply == {"running": True, "virtuals": []}
    assert seen == ["status"]


async def test_the_socket_is_readable_by_its_owner_only(tmp_path):
    async def handler(command):
        return {}

    path = tmp_path / "ctl.sock"
    server = await serve(path, handler)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        server.close()
        await server.wait_closed()


async def test_a_failing_handler_answers_with_the_error(tmp_path):
    async def handler(command):
        raise RuntimeError("broken")

    path = tmp_path / "ctl.sock"
    server = await serve(path, handler)
    try:
        reply = await asyncio.to_thread(request, path)
    finally:
        server.close()
        await server.wait_closed()
    assert reply == {"error": "RuntimeError: broken"}


def test_nothing_listening_means_no_answer(tmp_path):
    assert request(tmp_path / "absent.sock") is None
