"""Access control in front of the app's aiohttp server.

trame and wslink are not safe on a network by default (a public default secret, a custom secret
that travels in the URL, no Origin check on the websocket upgrade).  This guard:

* refuses websocket upgrades whose ``Origin`` is not the page's own origin (cross-site websocket
  hijacking, also against a loopback server from any website the user visits), and likewise
  any state-changing request (POST readings, acknowledgements) sent by a page of another
  origin (cross-site request forgery; clients outside a browser send no Origin); on a loopback
  bind refuses a ``Host`` that is not loopback (DNS rebinding);
* when a token is required (any non-loopback bind), refuses every request without it.  A browser
  presents it once as ``?token=...``; the guard answers with a session cookie of that browser
  alone (HttpOnly, SameSite=Strict, Secure over TLS) that expires after :data:`SESSION_S` unless
  used, and redirects to the same URL without the token, so it does not stay in the address bar,
  the history or the logs.  API clients send ``Authorization: Bearer <token>``.  A session is a
  random id with its expiry, signed with the token: it outlives a restart, and a new token ends
  every session;
* answers every response with ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (no
  other site can frame the app and trick a click on *Ack*), and serves no Python source.

A token must be printable ASCII and strong (:func:`check_token`: an entropy estimate that
counts a known default, a repetition or a run such as ``0123...`` as the little it is worth).
Websocket messages are capped before any memory is reserved for them (:func:`cap_websocket_messages`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from twin.errors import TwinError

COOKIE = "twin_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TOKEN_ENV = "TWIN_TOKEN"
MIN_TOKEN_LENGTH = 24
MIN_TOKEN_BITS = 100  #: estimated entropy a token needs (24 random URL-safe characters give ~140)
SESSION_S = 24 * 3600  #: a browser session's life; renewed by use once half of it has passed
#: secrets that ship with trame/wslink/ParaView examples, and the words of weak passwords: they
#: count as one symbol each, wherever they appear in a token
PUBLIC_SECRETS = {"wslink-secret", "vtkweb-secret", "paraviewweb-secret", "secret", "changeme", "password"}
WEAK_WORDS = (
    *sorted(PUBLIC_SECRETS, key=len, reverse=True),
    *("wslink", "vtkweb", "paraview", "trame", "passwd", "admin", "token", "qwerty", "letmein", "welcome"),
)
#: what the server sends to browsers; a path part with another of these suffixes is never served
SOURCE_SUFFIXES = {".py", ".pyc", ".pyo", ".pyi", ".pyx", ".pxd", ".so", ".toml", ".cfg", ".ini"}
WS_MESSAGE_CAP = 1 << 20  #: the most a browser's websocket message may be, declared or sent
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class TokenError(TwinError):
    """A missing or weak access token for a network-facing server."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token(token: str | None) -> str:
    """The token if strong enough for a network-facing server; else a TokenError saying why."""
    hint = f'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))" and pass it in ${TOKEN_ENV}'
    if not token:
        raise TokenError(f"a non-loopback bind needs an access token ({hint})")
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise TokenError(f"the token must be printable ASCII without spaces (HTTP headers carry it) ({hint})")
    if token.lower() in PUBLIC_SECRETS:
        raise TokenError(f"that token is a public default secret ({hint})")
    bits = token_bits(token)
    if len(token) < MIN_TOKEN_LENGTH or bits < MIN_TOKEN_BITS:
        raise TokenError(
            f"the token is too weak (about {bits:.0f} bits; {MIN_TOKEN_BITS} needed): at least"
            f" {MIN_TOKEN_LENGTH} characters of varied, unpredictable text ({hint})"
        )
    return token


def token_bits(token: str) -> float:
    """An estimate of a token's entropy in bits, as a guesser would see it.

    Known words and default secrets, runs of one step (``aaaa``, ``abcd``, ``9876``) and a
    repeated unit each count as one symbol; each symbol is worth log2 of the alphabet the token
    draws on (lower case, upper case, digits, punctuation).
    """
    text = token.lower()
    for word in WEAK_WORDS:
        text = text.replace(word, "\x00")
    period = _period(text)
    if period < len(text):
        text = text[:period] + "\x01"
    symbols = _symbols_without_runs(text)
    pool = sum(
        size
        for size, present in (
            (26, any(c.islower() for c in token)),
            (26, any(c.isupper() for c in token)),
            (10, any(c.isdigit() for c in token)),
            (33, any(not c.isalnum() for c in token)),
        )
        if present
    )
    return symbols * math.log2(max(pool, 2))


def _period(text: str) -> int:
    """The length of the shortest unit ``text`` repeats (its length when it repeats none)."""
    n = len(text)
    return next((p for p in range(1, n // 2 + 1) if n % p == 0 and text == text[:p] * (n // p)), n)


def _symbols_without_runs(text: str) -> int:
    """How many symbols are left when every run of three or more characters that step by -1, 0
    or +1 counts as one."""
    symbols, i = 0, 0
    while i < len(text):
        j = i + 1
        if j < len(text) and abs(ord(text[j]) - ord(text[i])) <= 1:
            step = ord(text[j]) - ord(text[i])
            while j + 1 < len(text) and ord(text[j + 1]) - ord(text[j]) == step:
                j += 1
            j = j + 1 if j - i >= 2 else i + 1
        symbols += 1
        i = j
    return symbols


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of text from a request (any characters) with an expected value."""
    return hmac.compare_digest(given.encode("utf-8", "backslashreplace"), expected.encode())


@dataclass
class AccessPolicy:
    """Who may talk to the server: the bind address decides; the token, if any, admits.

    A token given on a loopback bind is checked as strictly as elsewhere: it is what guards the
    server, and a non-ASCII one could never be compared with what a client sends.
    """

    host: str
    token: str | None = None
    allowed_origins: set[str] = field(default_factory=set)
    #: folders of browser assets: URL prefix -> the suffixes a browser may fetch there (``.js``)
    assets: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loopback = is_loopback(self.host)
        if not self.loopback or self.token:
            check_token(self.token)
        self._key = hashlib.sha256(b"twin-session\0" + self.token.encode()).digest() if self.token else b""

    # -- decisions ---------------------------------------------------------------------
    def refusal(self, request: web.BaseRequest) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else None."""
        if self.loopback and not is_loopback(_host_name(request.host)):
            return 421, "this server only answers to its loopback name"
        if request.headers.get("Upgrade", "").lower() == "websocket" and not self.origin_allowed(request):
            return 403, "websocket refused: the Origin is not this server's"
        if request.method not in SAFE_METHODS and "Origin" in request.headers and not self.origin_allowed(request):
            return 403, "cross-site request refused: the Origin is not this server's"
        if self.token and not self.authenticated(request):
            return 401, "an access token is required"
        if not self.servable(request.path):
            return 404, "not found"
        return None

    def servable(self, path: str) -> bool:
        """Whether a path may be served: never Python source or configuration, and in the
        :attr:`assets` folders only files of their suffixes, at their top level."""
        parts = PurePosixPath(path).parts
        if any(p == "__pycache__" or PurePosixPath(p).suffix.lower() in SOURCE_SUFFIXES for p in parts):
            return False
        for prefix, suffixes in self.assets.items():
            if path.startswith(prefix):
                name = PurePosixPath(path[len(prefix) :])
                return len(name.parts) == 1 and name.suffix.lower() in suffixes
        return True

    def origin_allowed(self, request: web.BaseRequest) -> bool:
        origin = request.headers.get("Origin")
        if not origin:
            return False
        parts = urlsplit(origin)
        return parts.netloc == request.host or origin in self.allowed_origins

    def authenticated(self, request: web.BaseRequest) -> bool:
        """Whether the request carries the token (by session cookie, bearer header or query); True
        without one.  Text of any alphabet is compared safely: a wrong token is a 401, never a 500."""
        token = self.token
        if not token:
            return True
        if self.session_expiry(request.cookies.get(COOKIE, "")) is not None:
            return True
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and _same(bearer[7:].strip(), token):
            return True
        return _same(request.query.get("token", ""), token)

    # -- sessions --------------------------------------------------------------------------
    def new_session(self, now: float | None = None, session: str | None = None) -> str:
        """A cookie value for one browser: ``<random id>.<expiry>.<signature>``."""
        expiry = int((time.time() if now is None else now) + SESSION_S)
        body = f"{session or secrets.token_urlsafe(18)}.{expiry}"
        return f"{body}.{self._sign(body)}"

    def session_expiry(self, cookie: str, now: float | None = None) -> int | None:
        """The expiry of a valid, unexpired session cookie, else None."""
        session, _, rest = cookie.partition(".")
        expiry, _, signature = rest.partition(".")
        if not (session and expiry.isascii() and expiry.isdigit() and len(expiry) < 12):
            return None
        if not _same(signature, self._sign(f"{session}.{expiry}")):
            return None
        return int(expiry) if int(expiry) > (time.time() if now is None else now) else None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode("utf-8", "backslashreplace"), hashlib.sha256).hexdigest()

    def _set_session(self, request: web.BaseRequest, response: web.StreamResponse, value: str) -> None:
        response.set_cookie(
            COOKIE, value, max_age=SESSION_S, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )

    def _renewal(self, request: web.BaseRequest) -> str | None:
        """A fresh cookie for a session past half its life (a screen in use stays signed in)."""
        cookie = request.cookies.get(COOKIE, "")
        expiry = self.session_expiry(cookie) if self.token else None
        if expiry is None or expiry - time.time() > SESSION_S / 2:
            return None
        return self.new_session(session=cookie.partition(".")[0])

    # -- aiohttp ---------------------------------------------------------------------------
    def middleware(self) -> Any:
        policy = self

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            refused = policy.refusal(request)
            if refused:
                return web.Response(status=refused[0], text=refused[1] + "\n")
            if policy.token and "token" in request.query:
                query = {k: v for k, v in request.query.items() if k != "token"}
                response = web.HTTPFound(str(request.rel_url.with_query(query)))
                policy._set_session(request, response, policy.new_session())
                return response
            response = await handler(request)
            renewed = policy._renewal(request)
            if renewed and not response.prepared:
                policy._set_session(request, response, renewed)
            return response

        return guard

    def install(self, app: web.Application) -> None:
        """Put the guard first in an aiohttp application and add the security headers to every
        response (before it starts)."""
        app.middlewares.insert(0, self.middleware())
        app.on_response_prepare.append(_security_headers)
        no_auto_inflate(app)
        if self.token:
            redact_in_logs(self.token)


async def _security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """No framing by any site (clickjacking *Ack*), no type sniffing, no referrer."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def no_auto_inflate(app: web.Application) -> None:
    """Make the server hand request bodies over as sent (before it starts).

    aiohttp inflates a compressed body on the event loop as it arrives, and goes on inflating
    what it drains after answering, even for a request the guard refused: a 1 MB gzip that
    inflates to 1 GB froze every client for seconds, without a token.  The API inflates what
    it admitted, off the loop and capped (:func:`twin.faces.api.read_body`).  wslink builds its
    own :class:`~aiohttp.web.Application`, so the handler arguments its constructor takes
    (``handler_args``) are set here.
    """
    app._handler_args = {**(app._handler_args or {}), "auto_decompress": False}


def cap_websocket_messages(limit: int = WS_MESSAGE_CAP) -> None:
    """Refuse a websocket message larger than ``limit`` before reserving memory for it.

    wslink reassembles a message from chunks whose 12-byte header declares its total size, and
    once a client has said hello (with wslink's public default secret) reserves whatever that
    header declares: a 19-byte message declaring 1 GiB made the server allocate 1 GiB.  The
    replacement caps the declared size, and the sum of all messages pending on one connection,
    at ``limit``; past it the connection is closed.  Process-wide: call before serving.
    """
    from wslink import protocol
    from wslink.chunking import UnChunker

    class CappedUnChunker(UnChunker):  # type: ignore[misc]
        def set_max_message_size(self, size: int) -> None:
            super().set_max_message_size(min(size, limit))

        def process_chunk(self, chunk: bytes) -> Any:
            message, total = int.from_bytes(chunk[0:4], "little"), int.from_bytes(chunk[8:12], "little")
            if message not in self.pending_messages:
                pending = sum(len(m["content"]) for m in self.pending_messages.values())
                if pending + total > self.max_message_size:
                    raise ValueError(f"websocket message of {total} bytes refused: the limit is {limit}")
            return super().process_chunk(chunk)

    protocol.UnChunker = CappedUnChunker


def _host_name(host: str) -> str:
    """``Host`` header without its port: ``127.0.0.1:8080`` -> ``127.0.0.1``; ``[::1]:80`` -> ``::1``."""
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class _Redact(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.pattern = re.compile(re.escape(token))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.pattern.search(message):
            record.msg, record.args = self.pattern.sub("***", message), ()
        return True


def redact_in_logs(token: str) -> None:
    """Replace the token by *** in every log record (the access log sees the first ``?token=`` URL)."""
    redactor = _Redact(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web", "wslink", "trame_server"):
        logging.getLogger(name).addFilter(redactor)
