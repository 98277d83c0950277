"""Property-based tests (Hypothesis) of ``POST /api/readings`` over real HTTP.

Whatever a client sends, the answer is a 200 with a count for every reading and a reason for
every rejection, or a 4xx saying why: never a 5xx for a body that can never succeed, and never
a reading acknowledged twice.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin
from twin.faces.api import api_in_thread
from twin.risk.ingest import REASONS
from twin.risk.service import RiskService

ROOT = Path(__file__).resolve().parent.parent
SENSORS = ["GAS-B006", "GAS-B013", "BR-DISP-X3"]
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The API of the demo's live risk on a background thread; yields its base URL."""
    scene = twin.load(ROOT / "scenes" / "demo.toml")
    service = RiskService.from_twin(scene, store_path=tmp_path_factory.mktemp("store") / "s.duckdb").open()
    with api_in_thread(service) as port:
        yield f"http://127.0.0.1:{port}/api/readings"
    service.close()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
now_ms = int(time.time() * 1000)
timestamps = st.one_of(
    st.integers(-3_600_000, 900_000).map(lambda offset: now_ms + offset),  # around now: mostly accepted
    st.floats(),
    st.integers(),
    st.datetimes().map(lambda moment: moment.isoformat()),
    json_values,
)
values = st.one_of(st.floats(), st.integers(), json_values)
readings = st.fixed_dictionaries(
    {}, optional={"sensor": st.sampled_from(SENSORS) | json_values, "ts": timestamps, "value": values}
)
batches = st.lists(readings | json_values, max_size=30)


def counts_add_up(answer: dict, n: int) -> None:
    assert answer["accepted"] + answer["duplicate"] + answer["rejected"] == n
    assert all(0 <= r["index"] < n and r["reason"] in REASONS[1:] for r in answer["rejections"])
    assert len(answer["rejections"]) == answer["rejected"]


@PROPERTIES
@given(batch=batches)
def test_every_reading_of_any_batch_is_counted_once(api, batch):
    status, answer = post(api, json.dumps(batch).encode())
    assert status == 200, answer
    counts_add_up(answer, len(batch))
    again_status, again = post(api, json.dumps(batch).encode())  # idempotent: nothing is stored twice
    assert again_status == 200 and again["accepted"] == 0
    assert again["duplicate"] == answer["accepted"] + answer["duplicate"]


@PROPERTIES
@given(batch=batches, encoding=st.sampled_from(["ndjson", "gzip", "bom"]))
def test_every_encoding_of_a_batch_gets_the_same_counts(api, batch, encoding):
    if encoding == "ndjson":  # one reading object per line
        batch = [item for item in batch if isinstance(item, dict)]
    plain = json.dumps(batch).encode()
    if encoding == "ndjson":
        body, headers = b"\n".join(json.dumps(item).encode() for item in batch), {}
    elif encoding == "gzip":
        body, headers = gzip.compress(plain), {"Content-Encoding": "gzip"}
    else:
        body, headers = b"\xef\xbb\xbf" + plain, {}
    status, answer = post(api, body, headers)
    assert status == 200, answer
    assert answer["accepted"] + answer["duplicate"] + answer["rejected"] == len(batch)


@PROPERTIES
@given(document=json_values)
def test_any_json_document_is_answered_200_or_400_with_a_reason(api, document):
    status, answer = post(api, json.dumps(document).encode())
    assert status in (200, 400), answer
    assert status == 200 or answer["error"]


@PROPERTIES
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_answered_without_a_server_error(api, body):
    status, answer = post(api, body)
    assert status in (200, 400), answer


@PROPERTIES
@given(body=st.binary(max_size=200))
def test_a_body_that_is_not_gzip_is_a_client_error(api, body):
    status, answer = post(api, body, {"Content-Encoding": "gzip"})
    assert status in (200, 400), answer  # 200: the bytes happened to be gzip of a batch
