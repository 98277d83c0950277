"""Simplified Chinese and English for every face: the browser app, the briefing and rendered pictures.

Messages are gettext catalogues (``twin/faces/locale/<locale>/LC_MESSAGES/twin.po``, msgids in
English) read with Babel when first needed, so a translator edits a ``.po`` file with any gettext
tool and nothing has to be compiled at build time.  The same catalogue serves both sides:

- the server translates with :func:`gettext` (alias ``_``) in the language of the browser whose
  trigger runs now (:func:`use` sets it for the trigger's duration; a context variable, so
  concurrent triggers and worker threads started with ``asyncio.to_thread`` keep their own);
- the browser gets :func:`browser_catalogues` once, as shared trame state ``i18n``, and templates
  read ``i18n[lang][msgid]`` through :func:`tr` (``lang`` is each browser's client-only key), so a
  switch of language re-renders the page's text without reloading the scene; ``client.js``
  offers ``window.twinI18n.t(msgid, values)`` for text made in the browser.

Dates and numbers follow the language with Babel's CLDR data (:func:`format_datetime`,
:func:`format_number`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime as babel_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

#: the languages offered, each with its CLDR locale and catalogue folder (English is the msgids)
LANGUAGES: dict[str, str] = {"zh": "zh_CN", "en": "en_GB"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "twin"
#: the environment variable that chooses the language of pictures and the CLI (else the locale)
LANG_ENV = "TWIN_LANG"
#: the gettext context of the word fragments that translate the risk engine's reasons
REASON = "reason"

#: Vuetify's own locale per language and, for simplified Chinese, the texts of its components the
#: app shows (Vuetify's zh-Hans wording; the rest falls back to Vuetify's English)
VUETIFY_LOCALES = {"zh": "zhHans", "en": "en"}
VUETIFY_ZH = {
    "badge": "徽章",
    "open": "打开",
    "close": "关闭",
    "dismiss": "点击关闭",
    "loading": "加载中…",
    "noDataText": "没有数据",
    "input": {"clear": "清除 {0}", "prependAction": "{0} 前置操作", "appendAction": "{0} 后置操作"},
    "slider": {"label": "滑块"},
}

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("twin_lang", default=None)


def normalise(tag: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh_Hans``, ``zh_CN.UTF-8``, ``en-US`` ... to a language of :data:`LANGUAGES`.

    ``None`` for anything else (the caller falls back to its own default).
    """
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split(".")[0].split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def default_language() -> str:
    """The language of pictures and server messages without a browser: ``$TWIN_LANG``, else the
    process locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English."""
    for key in (LANG_ENV, "LC_ALL", "LC_MESSAGES", "LANG"):
        found = normalise(os.environ.get(key))
        if found:
            return found
    return DEFAULT


def current() -> str:
    """The language in use now: the one :func:`use` set, else :func:`default_language`."""
    return _current.get() or default_language()


@contextlib.contextmanager
def use(lang: str | None) -> Iterator[str]:
    """Translate in ``lang`` (any tag :func:`normalise` takes) inside the block."""
    token = _current.set(normalise(lang) or current())
    try:
        yield _current.get() or DEFAULT
    finally:
        _current.reset(token)


@functools.cache
def _messages(lang: str) -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> translation of one language, read once from its ``.po`` file."""
    path = LOCALE_DIR / LANGUAGES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == DEFAULT or not path.exists():
        return {}
    with path.open("rb") as handle:
        messages = read_po(handle, locale=LANGUAGES[lang], domain=DOMAIN)
    return {(m.context, str(m.id)): str(m.string) for m in messages if m.id and m.string and not m.fuzzy}


def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation of one language's messages without context (empty for English)."""
    return {msgid: text for (context, msgid), text in _messages(lang).items() if context is None}


def fragments(lang: str, context: str = REASON) -> list[list[str]]:
    """[English, translation] pairs of a context's word fragments, longest first.

    The risk engine writes its reasons in English, word by word from rule names, quantities and
    fixed phrases ("rule gas-lel: gas 32 %LEL at sensor G-S01"); replacing the known fragments
    (msgctxt ``reason``) gives a reading a Chinese operator understands while ids, numbers and
    units stay as they are.
    """
    pairs = [[msgid, text] for (ctx, msgid), text in _messages(lang).items() if ctx == context]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def msgids() -> list[str]:
    """Every msgid of the catalogues (the Chinese one lists them all)."""
    return sorted(catalogue("zh"))


def gettext(message: str, lang: str | None = None, **values: object) -> str:
    """``message`` in ``lang`` (default: :func:`current`), ``{name}`` fields filled from ``values``.

    An untranslated message stays English rather than disappearing.
    """
    text = catalogue(normalise(lang) or current()).get(message, message)
    return text.format(**values) if values else text


_ = gettext


def browser_catalogues() -> dict[str, dict[str, str]]:
    """Every language's catalogue for the browser's ``i18n`` state key; English maps each msgid to itself."""
    return {lang: {m: m for m in msgids()} if lang == DEFAULT else catalogue(lang) for lang in LANGUAGES}


def vuetify_locale() -> dict:
    """Vuetify's locale options: English at first, the Chinese messages there for a switch (``client.js``)."""
    return {"locale": "en", "fallback": "en", "messages": {VUETIFY_LOCALES["zh"]: VUETIFY_ZH}}


def browser_fragments() -> dict[str, list[list[str]]]:
    """Every language's reason fragments for the browser's ``i18n_fragments`` state key."""
    return {lang: fragments(lang) for lang in LANGUAGES}


#: a field of a reason fragment: ``{node}`` stands for one word (an id, a number) kept as it is
FIELD = re.compile(r"\{(\w+)\}")


def reason(message: str, lang: str | None = None) -> str:
    """A risk engine's reason in ``lang``: its known fragments replaced, longest first, whole words only.

    A fragment may hold fields (``forecast flooding at {node} in {minutes} min``), so a phrase whose
    words come in another order in the other language is translated whole and its ids and numbers
    moved to their place (``预报 {minutes} 分钟后 {node} 溢流积水``); ``client.js`` does the same.
    """
    for english, translated in fragments(normalise(lang) or current()):
        message = _fragment_pattern(english).sub(functools.partial(_filled, translated), message)
    return message


@functools.cache
def _fragment_pattern(english: str) -> re.Pattern[str]:
    parts = FIELD.split(english)  # text, field, text, field, ..., text
    body = "".join(re.escape(part) if i % 2 == 0 else rf"(?P<{part}>\S+)" for i, part in enumerate(parts))
    return re.compile(rf"(?<![\w-]){body}(?![\w-])")


def _filled(translated: str, found: re.Match[str]) -> str:
    return FIELD.sub(lambda field: found.groupdict().get(field[1]) or field[0], translated)


def tr(message: str) -> str:
    """A Vue expression for ``message`` in the browser's language (``lang`` of the page's state).

    For bound attributes (``title=(tr("..."),)``); :func:`text` wraps it for element text.
    """
    return tr_expr(js_string(message))


def tr_expr(expr: str) -> str:
    """A Vue expression translating the msgid that the JS expression ``expr`` gives (a level's label)."""
    return f"((i18n[lang] || {{}})[{expr}] || {expr})"


def js_string(value: str) -> str:
    """A single-quoted JS literal that is safe inside a double-quoted HTML attribute."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace('"', "\\x22").replace("\n", "\\n")
    return f"'{escaped}'"


def aria_label(message: str) -> str:
    """A bound ``aria-label`` attribute: the accessible name of a control, in the browser's language."""
    return f':aria-label="{tr(message)}"'


#: a Vue expression for the browser language's BCP 47 tag, for ``toLocaleString`` of dates and numbers
LOCALE_JS = "(" + " : ".join(f"lang === '{k}' ? '{v.replace('_', '-')}'" for k, v in LANGUAGES.items()) + " : 'en-GB')"


def text(message: str) -> str:
    """A template's text node showing ``message`` in the browser's language."""
    return "{{ " + tr(message) + " }}"


def format_datetime(when: float | None = None, lang: str | None = None) -> str:
    """A UTC time as people of ``lang`` write it (``2026年12月4日 01:42:00 UTC`` / ``4 Dec 2026, 01:42:00 UTC``)."""
    stamp = datetime.fromtimestamp(when, tz=UTC) if when else datetime.now(UTC)
    locale = Locale.parse(LANGUAGES[normalise(lang) or current()])
    return babel_datetime(stamp, "medium", tzinfo=UTC, locale=locale) + " UTC"


def format_number(value: float, lang: str | None = None) -> str:
    """A number with the language's grouping and decimal signs."""
    return format_decimal(value, locale=LANGUAGES[normalise(lang) or current()])
