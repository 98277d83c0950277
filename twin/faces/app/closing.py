"""A browser that goes away is not a server error: no traceback for it in the server's log.

A tab closed while a reply to it was on its way (a frame-time poll, a trigger's answer) makes
wslink's reply fail with aiohttp's ``ClientConnectionResetError``; wslink then logs the failure
with its traceback, tries to send the error to the same closed socket, and aiohttp logs that
second failure as "Error handling request", another traceback; a message published to it
without waiting (a state change, an image) ends in asyncio's "Task exception was never
retrieved".  All say only that the browser left, which
:class:`twin.faces.app.connections.ConnectionWatch` already handles (its view goes back to the
pool).  :class:`BrowserGone` drops exactly those records; every other error is kept.
"""

from __future__ import annotations

import logging
import sys

#: the loggers that report a reply to a closed browser: wslink's RPC replies, aiohttp's handler,
#: and asyncio's "Task exception was never retrieved" for a message wslink published unawaited
LOGGERS = ("wslink.protocol", "aiohttp.server", "asyncio")


def _is_gone(error: BaseException | None) -> bool:
    """Whether ``error``, or one it happened while handling, is a reset connection."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, ConnectionResetError):
            return True
        error, seen = error.__context__, seen + 1
    return False


class BrowserGone(logging.Filter):
    """Drops a log record about a reply to a browser that has gone (a reset connection).

    wslink logs its failure as three records inside the ``except`` block, without ``exc_info``:
    the exception being handled then (``sys.exc_info``) tells them apart from real errors.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
        return not _is_gone(error)


def quiet_closed_browsers() -> None:
    """Install :class:`BrowserGone` on the loggers that report closed browsers (once per process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, BrowserGone) for f in logger.filters):
            logger.addFilter(BrowserGone())
