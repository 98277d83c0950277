"""Browser connections: which websocket claimed which view, so a closed one gives its view back.

Without this a wall screen that reloads (after a lost connection, every night) leaves its old
view behind; after a few reloads the pool is full of views nobody watches and a new browser
takes the least recently used one, which may be a live screen's.
"""

from __future__ import annotations

from collections.abc import Callable

from wslink.websocket import LinkProtocol


class ConnectionWatch(LinkProtocol):  # type: ignore[misc]  # wslink has no type hints
    """Calls ``closed(client_id)`` when a browser's websocket closes (wslink tells link protocols)."""

    def __init__(self, closed: Callable[[str], object]) -> None:
        super().__init__()
        self.closed = closed

    def onClose(self, client_id: str) -> None:  # noqa: N802 - wslink's name
        self.closed(str(client_id))
