"""The first thing a browser sees: CIM Twin's own loading screen, from the first second on.

Three moments, one look (the logo, the name in the page's language, a progress line):

1. **while the scene loads**, before the app exists: :class:`LoadingServer` holds the app's port
   and answers every page with :func:`progress_page`, which asks ``/twin_loading.json`` for the
   load's progress (sources loaded of total, the one loading now) and reloads itself into the
   app once the app answers instead;
2. **while the app's page connects**: trame's page shows the fragment at ``/loading.tpl`` until
   Vue mounts; :func:`middleware` answers it with :func:`connecting_fragment` (trame's white
   "Loading..." otherwise), and answers the page's question to a session launcher
   (``POST /paraview/``, a 405 in every page load's log and console) with "no launcher here"
   (JSON ``null``), so the page connects to its own websocket as it would after the 405;
3. **until the view is claimed**: :func:`overlay`, a Vue overlay over the page.
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
from typing import Any

from aiohttp import web

from twin.faces.i18n import LANGUAGES, gettext, js_string, normalise, text

PROGRESS_PATH = "/twin_loading.json"
FRAGMENT_PATH = "/loading.tpl"  # trame's index.html fetches it into #app
LAUNCHER_PATH = "/paraview/"  # trame's client asks a session launcher there first
BACKGROUND, ACCENT = "#12161d", "#4fc3f7"  # the app theme's background and primary (layout.THEME)

#: the logo: a skyline over a pipe, drawn in CSS/SVG (no image to fetch while the server is busy)
LOGO = (
    '<svg viewBox="0 0 96 96" width="88" height="88" role="img" aria-hidden="true">'
    f'<rect x="10" y="36" width="16" height="40" rx="2" fill="{ACCENT}" opacity="0.55"/>'
    f'<rect x="30" y="18" width="18" height="58" rx="2" fill="{ACCENT}"/>'
    f'<rect x="52" y="28" width="14" height="48" rx="2" fill="{ACCENT}" opacity="0.8"/>'
    f'<rect x="70" y="44" width="16" height="32" rx="2" fill="{ACCENT}" opacity="0.55"/>'
    '<path d="M6 86 H90" stroke="#ffb300" stroke-width="5" stroke-linecap="round"/>'
    '<circle cx="48" cy="86" r="5" fill="#ffb300"/></svg>'
)
STYLE = (
    f".twin-boot{{position:fixed;inset:0;z-index:3000;display:flex;flex-direction:column;align-items:center;"
    f"justify-content:center;gap:14px;background:{BACKGROUND};color:#e3e8ef;font-family:'Noto Sans CJK SC',"
    f"'Noto Sans SC','Roboto',sans-serif;text-align:center}}"
    ".twin-boot h1{margin:0;font-size:30px;font-weight:700;letter-spacing:.02em}"
    ".twin-boot p{margin:0;font-size:15px;color:#aab4c3}"
    ".twin-boot .bar{width:min(360px,80vw);height:6px;border-radius:3px;background:#263040;overflow:hidden}"
    f".twin-boot .bar i{{display:block;height:100%;width:30%;background:{ACCENT};border-radius:3px;"
    "transition:width .3s}"
    ".twin-boot .bar i.moving{animation:twin-boot 1.4s ease-in-out infinite}"
    "@keyframes twin-boot{0%{margin-left:-30%}100%{margin-left:100%}}"
    "@media (prefers-reduced-motion: reduce){.twin-boot .bar i.moving{animation:none;width:100%;opacity:.5}}"
)
#: the messages of the screens before the app's catalogues reach the browser
MESSAGES = (
    "CIM Twin",
    "Loading the scene…",
    "{done} of {total} sources loaded",
    "now: {what}",
    "Starting the app…",
    "Connecting…",
    "Preparing your view…",
)


def _catalogues() -> dict[str, dict[str, str]]:
    return {lang: {m: gettext(m, lang) for m in MESSAGES} for lang in LANGUAGES}


def _boot(title: str, line: str, bar: str = '<i class="moving"></i>', test: str = "loading-screen") -> str:
    return (
        f'<div class="twin-boot" data-testid="{test}" role="status" aria-live="polite">{LOGO}'
        f'<h1 data-boot="title">{html.escape(title)}</h1><p data-boot="line">{html.escape(line)}</p>'
        f'<div class="bar">{bar}</div><p data-boot="detail"></p></div>'
    )


def connecting_fragment(lang: str) -> str:
    """trame's loading fragment (``/loading.tpl``): put in the page as HTML, so no script runs."""
    return f"<style>{STYLE}</style>" + _boot(gettext("CIM Twin", lang), gettext("Connecting…", lang))


def progress_page(scene: str, lang: str | None) -> str:
    """The whole page while the scene loads: the progress, asked every half second; the app once it answers.

    ``lang`` is ``twin serve --lang``; without it ``?lang=`` and then the browser's languages choose.
    """
    config = json.dumps(
        {"lang": lang, "messages": _catalogues(), "path": PROGRESS_PATH.lstrip("/")}, ensure_ascii=False
    )
    script = (
        "const C=" + config.replace("</", "<\\/") + ";"
        "const pick=t=>{const p=String(t||'').toLowerCase().split(/[-_]/)[0];return C.messages[p]?p:null};"
        "const L=C.lang||pick(new URLSearchParams(location.search).get('lang'))||"
        "(navigator.languages||[navigator.language]).map(pick).find(Boolean)||'en';"
        "const M=C.messages[L];document.documentElement.lang=L==='zh'?'zh-CN':'en-GB';"
        "const t=(k,v)=>Object.entries(v||{}).reduce((s,[a,b])=>s.split('{'+a+'}').join(b),M[k]||k);"
        "const el=k=>document.querySelector('[data-boot='+k+']');"
        "el('title').textContent=t('CIM Twin');el('line').textContent=t('Loading the scene…');"
        "document.title=t('CIM Twin');"
        "async function poll(){let s=null;"
        "try{const r=await fetch(C.path,{cache:'no-store'});s=r.ok?await r.json():null}catch(e){}"
        "if(s&&s.app){location.reload();return}"
        "if(s&&s.total){const bar=document.querySelector('.bar i');bar.classList.remove('moving');"
        "bar.style.width=Math.round(100*s.done/s.total)+'%';"
        "el('line').textContent=s.done<s.total?t('{done} of {total} sources loaded',s):t('Starting the app…');"
        "el('detail').textContent=s.done<s.total&&s.what?t('now: {what}',s):''}"
        "setTimeout(poll,500)}poll();"
    )
    title = html.escape(f"CIM Twin — {scene}")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width,initial-scale=1"><title>{title}</title><style>{STYLE}</style></head>'
        f'<body style="margin:0;background:{BACKGROUND}">'
        + _boot("CIM Twin", "Loading the scene…", '<i class="moving"></i>')
        + f"<script>{script}</script></body></html>"
    )


def chosen_language(request: web.BaseRequest, lang: str | None) -> str:
    """``twin serve --lang``, else the browser's first language we have (its Accept-Language)."""
    if lang:
        return lang
    tags = [part.split(";")[0].strip() for part in request.headers.get("Accept-Language", "").split(",")]
    return next((n for n in map(normalise, tags) if n), "en")


def middleware(lang: str | None) -> Any:
    """The app server's answers to the page's first questions (see the module's docstring, 2)."""

    @web.middleware
    async def first_questions(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == FRAGMENT_PATH and request.method == "GET":
            return web.Response(text=connecting_fragment(chosen_language(request, lang)), content_type="text/html")
        if request.path == LAUNCHER_PATH and request.method == "POST":
            return web.json_response(None)  # no launcher: the page connects to this server's /ws
        if request.path.endswith(PROGRESS_PATH):
            return web.json_response({"app": True})  # a progress page still open: reload into the app
        response: web.StreamResponse = await handler(request)
        return response

    return first_questions


class LoadingServer:
    """The app's port while the scene loads: every page is :func:`progress_page`, and
    ``/twin_loading.json`` the progress that :meth:`progress` (a loader progress callback) records.

    Runs its own event loop on a thread, so it answers while the main thread loads; guarded by
    the same :class:`~twin.faces.security.AccessPolicy` as the app (a token, a loopback name).
    """

    def __init__(self, policy, scene: str, lang: str | None = None) -> None:
        self.policy, self.scene, self.lang = policy, scene, lang
        self.state: dict[str, Any] = {"done": 0, "total": 0, "what": "", "app": False}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int) -> int:
        """Listen on ``port`` (0: a free one) of the policy's host; the port taken."""
        app = web.Application()
        self.policy.install(app)
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._listen(port))
            except OSError as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="twin-loading-screen", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return int(self._runner.addresses[0][1])

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        await self._runner.setup()
        await web.TCPSite(self._runner, self.policy.host, port).start()

    def progress(self, done: int, total: int, what: str) -> None:
        self.state.update(done=done, total=total, what=what)

    async def _answer(self, request: web.Request) -> web.Response:
        """The progress at ``…/twin_loading.json`` (the page asks it relative to itself), else the page."""
        if request.path.endswith(PROGRESS_PATH):
            return web.json_response(self.state, headers={"Cache-Control": "no-store"})
        return web.Response(
            text=progress_page(self.scene, self.lang), content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    def stop(self) -> None:
        """Give the port back (the app takes it next)."""
        if self._thread is None or self._runner is None:
            return
        runner = self._runner
        asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._thread = None


def overlay() -> None:
    """The same screen over the app until this browser's view is claimed (``ready``)."""
    from trame.widgets import client
    from trame.widgets import html as widgets

    client.Style(STYLE)
    with widgets.Div(
        v_if="!ready",
        classes="twin-boot",
        raw_attrs=['data-testid="loading-screen"', 'role="status"', 'aria-live="polite"'],
    ):
        widgets.Div(v_html=js_string(LOGO), style="line-height: 0")
        widgets.H1(text("CIM Twin"))
        widgets.P(text("Preparing your view…"))
        with widgets.Div(classes="bar"):
            widgets.I(classes="moving")
