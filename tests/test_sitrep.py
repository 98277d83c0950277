"""Situation reports: an incident's PDF (timeline, plan progress, affected, resources, open
actions, Chinese and English) and a shift handover, from a simulated gas leak."""

from __future__ import annotations

import re

import pytest
from incident_support import T0, Clock, demo_scene, play

from twin.faces.sitrep import FONTS, handover_report, incident_report

pytestmark = pytest.mark.skipif(not any(f.exists() for f in FONTS), reason="needs fonts-noto-cjk")


@pytest.fixture(scope="module")
def gas(tmp_path_factory):
    clock = Clock(T0 - 300)
    svc = play(demo_scene(), tmp_path_factory.mktemp("gas") / "s.duckdb", ("gas_leak",), until=T0 + 240, clock=clock)
    inc = next(i for i in svc.incidents() if i["hazard"] == "gas")
    svc.check_off(inc["id"], "verify", "Li Ming", "30 %LEL at the door")
    svc.act(inc["id"], "Li Ming", "asked for a second detector")
    yield svc, inc["id"], clock
    svc.close()


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_incident_report(gas, tmp_path, artifacts):
    svc, inc_id, _ = gas
    out = incident_report(svc.incident(inc_id), artifacts / "sitrep_incident.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and pages(data) >= 1
    assert len(data) > 10_000  # the CJK font subset is embedded


def test_handover_report(gas, artifacts):
    svc, inc_id, clock = gas
    listing = [svc.incident(i["id"]) for i in svc.incidents(include_closed=True)]
    out = handover_report(listing, 8, clock.t, artifacts / "sitrep_handover.pdf")
    assert out.read_bytes().startswith(b"%PDF-")


def test_pdf_renders_with_pdftoppm(gas, artifacts):
    """The issue's check: the report rendered to PNG and looked at (where poppler is installed)."""
    import shutil
    import subprocess

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    svc, inc_id, _ = gas
    pdf = incident_report(svc.incident(inc_id), artifacts / "sitrep_check.pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(artifacts / "sitrep")], check=True
    )
    assert list(artifacts.glob("sitrep*.png"))


def test_report_command(tmp_path):
    """``twin report SCENE --incident ID --store F --no-map -o out.pdf`` on a store a leak was played into."""
    import argparse

    from incident_support import ROOT

    from twin.faces.commands import report

    store = tmp_path / "s.duckdb"
    svc = play(demo_scene(), store, ("gas_leak",), until=T0 + 120)
    inc = svc.incidents()[0]["id"]
    svc.close()
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers())
    for extra, name in ((["--incident", str(inc), "--no-map"], "one.pdf"), (["--handover", "12"], "shift.pdf")):
        scene = str(ROOT / "scenes" / "demo.toml")
        args = parser.parse_args(["report", scene, "--store", str(store), "-o", str(tmp_path / name), *extra])
        assert args.func(args) == 0
        assert (tmp_path / name).read_bytes().startswith(b"%PDF-")
