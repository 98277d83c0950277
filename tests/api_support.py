"""Run a test's requests against the REST API of a live service, on a real aiohttp server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from twin.faces.api import start_api


async def with_server(service: Any, body: Callable[[aiohttp.ClientSession], Awaitable[Any]]) -> Any:
    """Serve ``service`` on a free loopback port and give ``body`` a client session on it."""
    runner, port = await start_api(service, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            return await body(http)
    finally:
        await runner.cleanup()


def call_api(service: Any, body: Callable[[aiohttp.ClientSession], Awaitable[Any]]) -> Any:
    """:func:`with_server` from synchronous test code."""
    return asyncio.run(with_server(service, body))
