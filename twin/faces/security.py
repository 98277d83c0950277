"""Access control in front of the app's aiohttp server.

trame and wslink are not safe on a network by default (a public default secret, a custom secret
that travels in the URL, no Origin check on the websocket upgrade).  This guard:

* refuses websocket upgrades whose ``Origin`` is not the page's own origin (cross-site websocket
  hijacking, also against a loopback server from any website the user visits), and likewise
  any state-changing request (POST readings, acknowledgements) sent by a page of another
  origin (cross-site request forgery; clients outside a browser send no Origin); on a loopback
  bind refuses a ``Host`` that is not loopback (DNS rebinding);
* when a token is required (any non-loopback bind), refuses every request without it.  A browser
  presents it once as ``?token=...``; the guard answers with an HttpOnly cookie holding a digest
  of the token and redirects to the same URL without it, so the token does not stay in the
  address bar, the history or the logs.  API clients send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from twin.errors import TwinError

COOKIE = "twin_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TOKEN_ENV = "TWIN_TOKEN"
MIN_TOKEN_LENGTH = 24
#: secrets that ship with trame/wslink/ParaView examples: public, so never acceptable
PUBLIC_SECRETS = {"wslink-secret", "vtkweb-secret", "paraviewweb-secret", "secret", "changeme", "password"}


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
    if token.lower() in PUBLIC_SECRETS:
        raise TokenError(f"that token is a public default secret ({hint})")
    if len(token) < MIN_TOKEN_LENGTH or len(set(token)) < 10:
        raise TokenError(f"the token is too weak: at least {MIN_TOKEN_LENGTH} characters of varied text ({hint})")
    return token


@dataclass
class AccessPolicy:
    """Who may talk to the server: the bind address decides; the token, if any, admits."""

    host: str
    token: str | None = None
    allowed_origins: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.loopback = is_loopback(self.host)
        if not self.loopback:
            check_token(self.token)
        self._cookie_value = (
            hmac.new(self.token.encode(), b"twin-session", hashlib.sha256).hexdigest() if self.token else ""
        )

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
        return None

    def origin_allowed(self, request: web.BaseRequest) -> bool:
        origin = request.headers.get("Origin")
        if not origin:
            return False
        parts = urlsplit(origin)
        return parts.netloc == request.host or origin in self.allowed_origins

    def authenticated(self, request: web.BaseRequest) -> bool:
        """Whether the request carries the token (by cookie, bearer header or query); True without one."""
        token = self.token
        if not token:
            return True
        cookie = request.cookies.get(COOKIE, "")
        if cookie and hmac.compare_digest(cookie, self._cookie_value):
            return True
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip(), token):
            return True
        return hmac.compare_digest(request.query.get("token", ""), token)

    # -- aiohttp ---------------------------------------------------------------------------
    def middleware(self):
        policy = self

        @web.middleware
        async def guard(request: web.Request, handler):
            refused = policy.refusal(request)
            if refused:
                return web.Response(status=refused[0], text=refused[1] + "\n")
            if policy.token and "token" in request.query:
                query = {k: v for k, v in request.query.items() if k != "token"}
                target = request.rel_url.with_query(query)
                response = web.HTTPFound(str(target))
                response.set_cookie(COOKIE, policy._cookie_value, httponly=True, samesite="Strict")
                return response
            return await handler(request)

        return guard

    def install(self, app: web.Application) -> None:
        """Put the guard first in an aiohttp application (before it starts)."""
        app.middlewares.insert(0, self.middleware())
        if self.token:
            redact_in_logs(self.token)


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
