"""CesiumJS, a real 3D Tiles client, loads the demo district's tileset offline and reads its features.

The npm package ``cesium`` (installed by ``tasks.py`` in ``.npm-tools``) is served with the tileset
from a local http.server; the page (``tests/interop/cesium_page.html``) has no Ion token, no base
layer and no terrain server.  It loads ``tileset.json`` with ``Cesium3DTileset.fromUrl``, waits for
``allTilesLoaded`` and two frames, then reads every loaded feature's ``id`` and ``risk_level``
(``content.getFeature(i).getProperty``; two buildings are baked red and orange) and picks the
feature at the centre of the view.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from conftest import DEMO, ROOT

from twin.tiling import BuildOptions, build_tileset

CESIUM = ROOT / ".npm-tools" / "node_modules" / "cesium" / "Build" / "Cesium"
PAGE = ROOT / "tests" / "interop" / "cesium_page.html"
#: the levels baked into the tileset (as ``twin tile --risk-from STORE`` does from a live store)
RISK = {"bldg-006": "red", "bldg-011": "orange"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CESIUM.exists(), reason="python3 tasks.py test installs CesiumJS in .npm-tools"),
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  # the base class's name
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo tileset, Cesium's Build/Cesium and the page, served on a free local port."""
    root = tmp_path_factory.mktemp("cesium-site")
    report = build_tileset(DEMO, root / "tiles", BuildOptions(workers=2, risk=RISK))
    assert report.ok, report.failures
    (root / "cesium").symlink_to(CESIUM)
    (root / "index.html").symlink_to(PAGE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_port}/index.html"
    server.shutdown()


def test_cesium_loads_draws_and_reads_the_tileset(site, artifacts):
    from playwright.sync_api import sync_playwright

    root, url = site
    missing: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
        )
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 700})
            page.on("response", lambda r: missing.append(r.url) if r.status == 404 and "/tiles/" in r.url else None)
            page.goto(url)
            page.wait_for_function("window.cesiumResult !== undefined", timeout=300_000)
            result = page.evaluate("window.cesiumResult")
            shot = artifacts / "cesium_demo_tileset.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert "error" not in result, result.get("error")
    assert not missing, missing
    assert result["loaded"] > 10 and result["commands"] > 10
    assets = pq.read_table(root / "tiles" / "assets.parquet").to_pydict()
    features = result["features"]
    assert result["featureCount"] > 100
    for feature in features:
        assert assets["id"][feature["asset_row"]] == feature["id"]
        assert feature["risk_level"] == RISK.get(feature["id"], "none")
    assert {f["id"] for f in features if f["risk_level"] != "none"} == set(RISK)  # read in CesiumJS
    kinds = {f["kind"] for f in features}
    assert {"Building", "point class"} <= kinds
    assert result["picked"] is not None and result["picked"]["id"] in assets["id"]
    # the picture: the district drawn over the plain globe colour, not an empty or black view
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    background = np.array([0x20, 0x30, 0x40])
    drawn = np.abs(pixels - background).sum(axis=2) > 40
    assert drawn.mean() > 0.2, f"only {drawn.mean():.0%} of the view shows the city"
    print(json.dumps({"loaded": result["loaded"], "features": result["featureCount"], "picked": result["picked"]}))
