"""Live risk mounted on ``twin serve``: the REST API answers on the app's own server."""

import json
import time
import urllib.request

import pytest
from browser_support import serve

pytestmark = pytest.mark.browser  # starts the full app server


def call(url: str, body: str | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=None if body is None else body.encode(),
        headers={"Content-Type": "application/x-ndjson"} if body else {},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_red_reading_posted_to_the_app_server_turns_the_asset_red_within_a_second():
    with serve() as served:
        api = served.url + "api/"
        assert call(api + "health")["status"] == "ok"
        sensor = next(s for s in call(api + "sensors") if s["id"] == "GAS-B006")
        red = sensor["thresholds"]["red"]
        body = json.dumps({"sensor": "GAS-B006", "ts": int(time.time() * 1000), "value": red + 5})
        started = time.monotonic()
        answer = call(api + "readings", body)
        assert answer["accepted"] == 1, answer
        while True:
            risk = call(api + "assets/bldg-006")["risk"]
            if risk["level"] == "red" or time.monotonic() - started > 1.0:
                break
            time.sleep(0.05)
        assert risk["level"] == "red", risk
        assert "gas" in risk["reason"] and risk["since"]
