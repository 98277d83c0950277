"""Citizen hazard reports (the 12345/12350 hotlines, apps): checked, kept, verified or rejected.

A report names a place (world coordinates ``x, y`` in the scene's CRS, or a standard address
code of an asset), a category, a text and optionally a photo.  It enters as *unverified* (a
grey point on the map layer ``GET /api/reports``); an operator verifies it with a level, which
raises an alert on the nearest asset within :data:`NEAR_M` (so it joins that place's incident),
or rejects it with a reason.  Every report and decision is kept in the store; a decision is
made once.

Hostile input gets a clear refusal: the text is cleaned of control and formatting characters
and capped; a photo must be a JPEG, PNG or WebP by its magic bytes, at most
:data:`MAX_PHOTO` bytes, and is kept in the store, never under a name or path from the client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.assets import AssetTable
from twin.errors import InputError
from twin.risk.levels import CODES, COLOURS

#: categories of the hotline's hazard reports -> the hazard an alert of theirs belongs to
CATEGORIES = {
    "gas": "gas",
    "water": "water",
    "flood": "flood",
    "structure": "structure",
    "fire": "fire",
    "road": "structure",
    "other": "other",
}
REPORT = "report:"  #: rule prefix of a verified report's alert: ``report:<id>:<category>``
MAX_PHOTO = 5 * 1024 * 1024
MAX_TEXT = 2000
NEAR_M = 50.0
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
ADDRESS_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-")


class ReportRefused(InputError):
    """A report or decision that cannot be taken as sent, with its HTTP status."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(None, problem)
        self.status = status


@dataclass
class Report:
    id: int
    ts: float
    client: str
    category: str
    text: str
    x: float
    y: float
    asset: str  # the nearest asset within NEAR_M ("" if none)
    address: str = ""
    photo_type: str = ""
    photo_sha256: str = ""
    status: str = "unverified"  # unverified, verified, rejected
    level: str = ""
    decided: float | None = None
    decided_by: str = ""
    reason: str = ""
    alert_rule: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "client"}
        out["photo"] = bool(self.photo_type)
        return out


def clean_text(value: Any, key: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    """A string without control or invisible formatting characters (bidi overrides...), NFC, capped."""
    if not isinstance(value, str):
        raise ReportRefused(400, f"'{key}' must be a string")
    text = unicodedata.normalize("NFC", value)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co"))
    text = text.strip()
    if len(text) > limit:
        raise ReportRefused(400, f"'{key}' is longer than {limit} characters")
    if required and not text:
        raise ReportRefused(400, f"'{key}' is required")
    return text


def photo_of(value: Any) -> tuple[bytes, str]:
    """A base64 photo checked by its magic bytes and size: (bytes, media type)."""
    if not isinstance(value, str):
        raise ReportRefused(400, "'photo' must be a base64 string")
    if len(value) > (MAX_PHOTO * 4) // 3 + 8:
        raise ReportRefused(413, f"the photo is larger than {MAX_PHOTO // (1024 * 1024)} MB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ReportRefused(400, "'photo' is not valid base64") from None
    if len(data) > MAX_PHOTO:
        raise ReportRefused(413, f"the photo is larger than {MAX_PHOTO // (1024 * 1024)} MB")
    kind = next((t for magic, t in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "image/webp"
    if kind is None:
        raise ReportRefused(415, "the photo must be a JPEG, PNG or WebP image")
    return data, kind


class RateLimit:
    """At most ``per_minute`` reports per client in any minute (429 past it)."""

    def __init__(self, per_minute: int = 5) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, deque[float]] = {}

    def admit(self, client: str, now: float) -> None:
        times = self.seen.setdefault(client, deque())
        while times and times[0] <= now - 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            raise ReportRefused(429, f"at most {self.per_minute} reports a minute from one client: retry later")
        times.append(now)
        if len(self.seen) > 100_000:  # forget quiet clients, so the table cannot grow without bound
            self.seen = {c: t for c, t in self.seen.items() if t and t[-1] > now - 60.0}


class ReportDesk:
    """Takes reports in and records decisions on them (the service persists through the store)."""

    def __init__(self, assets: AssetTable, limit: RateLimit | None = None) -> None:
        self.assets = assets
        self.limit = limit or RateLimit()
        self._xy = assets.centres[:, :2]
        address = assets["address"] if "address" in assets else np.zeros(len(assets), str)
        self._address = {str(a): i for i, a in enumerate(address.tolist()) if a}

    def take(self, body: Any, client: str, report_id: int, now: float | None = None) -> tuple[Report, bytes]:
        """A checked report (and its photo bytes, empty if none) from a parsed JSON body."""
        now = time.time() if now is None else now
        if not isinstance(body, dict):
            raise ReportRefused(400, "a report is a JSON object: {category, text, x, y | address, photo?}")
        unknown = sorted(set(body) - {"category", "text", "x", "y", "address", "photo"})
        if unknown:
            raise ReportRefused(400, f"unknown field {unknown[0][:40]!r}")
        category = body.get("category")
        if category not in CATEGORIES:
            raise ReportRefused(400, f"'category' must be one of {', '.join(CATEGORIES)}")
        text = clean_text(body.get("text", ""), "text")
        x, y, address = self._place(body)
        photo, kind = photo_of(body["photo"]) if body.get("photo") else (b"", "")
        self.limit.admit(client, now)
        distance = np.hypot(*(self._xy - (x, y)).T) if len(self._xy) else np.zeros(0)
        near = int(np.argmin(distance)) if len(distance) else -1
        asset = str(self.assets["id"][near]) if near >= 0 and distance[near] <= NEAR_M else ""
        report = Report(report_id, now, client, category, text, x, y, asset, address, kind)
        report.photo_sha256 = hashlib.sha256(photo).hexdigest() if photo else ""
        return report, photo

    def _place(self, body: dict[str, Any]) -> tuple[float, float, str]:
        if "address" in body:
            code = body["address"]
            if not isinstance(code, str) or not 1 <= len(code) <= 40 or not set(code.upper()) <= ADDRESS_CHARS:
                raise ReportRefused(400, "'address' must be a standard address code (letters, digits, '-')")
            row = self._address.get(code)
            if row is None:
                raise ReportRefused(404, f"no asset has the standard address {code!r}")
            return float(self._xy[row, 0]), float(self._xy[row, 1]), code
        x, y = body.get("x"), body.get("y")
        for key, v in (("x", x), ("y", y)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) <= 1e9:
                raise ReportRefused(400, f"'{key}' must be a world coordinate (a number), or give 'address'")
        return float(x), float(y), ""  # type: ignore[arg-type]

    @staticmethod
    def decide(report: Report, body: Any, now: float) -> Report:
        """An operator's decision: ``{"by", "verify": level}`` or ``{"by", "reject": reason}``; once only."""
        if not isinstance(body, dict):
            raise ReportRefused(400, 'a decision is {"by": name, "verify": level} or {"by": name, "reject": reason}')
        if report.status != "unverified":
            raise ReportRefused(409, f"report {report.id} was {report.status} by {report.decided_by}; not rewritten")
        by = clean_text(body.get("by", ""), "by", 100)
        if ("verify" in body) == ("reject" in body):
            raise ReportRefused(400, "give either 'verify' (a level) or 'reject' (a reason)")
        if "verify" in body:
            level = body["verify"]
            if level not in COLOURS:
                raise ReportRefused(400, f"'verify' must be a level: {', '.join(COLOURS)}")
            report.status, report.level = "verified", level
            report.alert_rule = f"{REPORT}{report.id}:{report.category}"
        else:
            report.status, report.reason = "rejected", clean_text(body["reject"], "reject")
        report.decided, report.decided_by = now, by
        return report


def level_code(report: Report) -> int:
    return CODES[report.level]
