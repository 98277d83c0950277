"""Item 7 of issue #15 in small: consecutive what-ifs (isolation with hydraulics, mixed with flood
nowcasts) leave no file handle open in this process or its workers, and memory bounded.  The
1,000-run figures are bench/bench_hydraulics_soak.py's."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

pytest.importorskip("wntr")
pytest.importorskip("pyswmm")
sys.path.insert(0, str(ROOT / "bench"))

from bench_hydraulics_soak import soak  # noqa: E402


@pytest.mark.slow
def test_a_hundred_what_ifs_leave_no_handle_open() -> None:
    out = soak(100)
    before, after = out["before"], out["after"]
    assert set(out["statuses"]) == {"ok"}, out["statuses"]
    assert after["fds"]["self"] <= before["fds"]["self"]
    assert after["fds"]["workers"] <= before["fds"]["workers"]
    assert after["rss_mb"]["self"] <= before["rss_mb"]["self"] * 1.1 + 20
    assert after["rss_mb"]["workers"] <= before["rss_mb"]["workers"] * 1.1 + 20
