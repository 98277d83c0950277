"""Live risk in the browser under load, and the server's memory over an hour of feed.

1. Latency from ``POST /api/readings`` to the browser's changed picture (p50, p95), with
   ``twin serve --simulate`` running and extra synthetic readings POSTed for the demo sensors
   at about 1,000 readings/s.  Each sample alternates a red and a quiet reading of GAS-B021; the
   page counts red pixels of every image of the stream as it arrives.  Baseline in the same run:
   the POST's own round trip (ingest and commit, no picture).
2. Memory: an hour of simulated feed compressed 60x (the service's and the simulator's clock run
   60x fast, 1,000 readings/s fed in-process with timestamps on that clock) with a browser open;
   RSS of the server at start, middle and end.

Run: ``python bench/run.py briefing`` (about four minutes).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_support import browser, serve, wait_for_drawing  # noqa: E402
from common import report  # noqa: E402

SENSOR = "GAS-B021"
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "20"))
LOAD_PER_S = int(os.environ.get("BENCH_LOAD", "1000"))
FAST = 60.0
FEED_S = 60.0
WATCH_FRAMES = """
window.__frames = [];
const canvas = document.createElement('canvas'); canvas.width = 320; canvas.height = 200;
const ctx = canvas.getContext('2d', {willReadFrequently: true});
const count = (img) => {
  ctx.drawImage(img, 0, 0, 320, 200);
  const d = ctx.getImageData(0, 0, 320, 200).data;
  let red = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 100 && d[i + 1] < 45 && d[i + 2] < 45) red++;
  window.__frames.push([Date.now(), red]);
};
const watch = (img) => img.addEventListener('load', () => count(img));
document.querySelectorAll('.twin-view img').forEach(watch);
new MutationObserver(() => document.querySelectorAll('.twin-view img').forEach((img) => {
  if (!img.__twin) { img.__twin = true; watch(img); }
})).observe(document.body, {childList: true, subtree: true});
"""


def post(url: str, readings: list[dict]) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(url + "api/readings", data=json.dumps(readings).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def sensors(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "api/sensors", timeout=30) as response:
        return json.loads(response.read())


def load(url: str, stop: threading.Event, sent: list[int]) -> None:
    """Synthetic quiet readings for the other demo sensors at about LOAD_PER_S.

    Constant values, and no pressure sensors: readings a millisecond apart would make the
    pressure-falling rate rule see absurd rates and flap, which is not the load we mean to test.
    """
    quiet = {"gas": 1.0, "flow": 120.0, "water_level": 0.3, "water_depth": 0.0,
             "displacement": 1.0, "strain": 300.0, "vibration": 1.0, "temperature": 22.0}
    ids = [(s["id"], quiet[s["quantity"]]) for s in sensors(url) if s["id"] != SENSOR and s["quantity"] in quiet]
    batch, period = LOAD_PER_S // 10, 0.1
    while not stop.is_set():
        tick = time.monotonic()
        now = int(time.time() * 1000)
        rows = [{"sensor": ids[i % len(ids)][0], "ts": now - i, "value": ids[i % len(ids)][1]}
                for i in range(batch)]
        try:
            post(url, rows)
            sent[0] += batch
        except OSError:
            pass
        stop.wait(max(0.0, period - (time.monotonic() - tick)))


def latency() -> None:
    with serve("--simulate") as served, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        page.goto(served.url + "?risk=on")
        page.get_by_test_id("scene-name").wait_for(timeout=60_000)
        wait_for_drawing(page, Path(tempfile.gettempdir()) / "bench_briefing.png")
        page.get_by_test_id("view-top").click()  # the whole district, GAS-B021's building included
        time.sleep(2)
        page.evaluate(WATCH_FRAMES)
        stop, sent = threading.Event(), [0]
        feeder = threading.Thread(target=load, args=(served.url, stop, sent), daemon=True)
        feeder.start()
        time.sleep(3)
        started_load, sent_before = time.monotonic(), sent[0]
        waits, states, posts = [], [], []
        red_now = "() => window.twinRisk.get('risk').summary.levels.red"
        for i in range(SAMPLES):
            time.sleep(1.5)
            frames = page.evaluate("() => window.__frames.length")
            before = page.evaluate("() => window.__frames.length ? window.__frames[window.__frames.length - 1][1] : 0")
            reds = page.evaluate(red_now)
            t0 = time.time() * 1000
            posts.append(post(served.url, [{"sensor": SENSOR, "ts": int(t0), "value": 30.0 if i % 2 == 0 else 1.0}]))
            deadline, picture, state = time.monotonic() + 10, None, None
            while time.monotonic() < deadline and (picture is None or state is None):
                new, red = page.evaluate(f"() => [window.__frames.slice({frames}), ({red_now})()]")
                if state is None and red != reds:
                    state = time.time() - t0 / 1000
                hit = [t for t, count in new if t >= t0 and abs(count - before) > 40]
                if picture is None and hit:
                    picture = (hit[0] - t0) / 1000
                time.sleep(0.01)
            waits += [picture] if picture is not None else []
            states += [state] if state is not None else []
        rate = (sent[0] - sent_before) / (time.monotonic() - started_load)
        stop.set()
        feeder.join(timeout=5)
    s50, s95 = float(np.percentile(states, 50)), float(np.percentile(states, 95))
    print(f"POST -> risk state (counts, alerts) in the browser, {len(states)}/{SAMPLES} samples: "
          f"p50 {s50 * 1000:.0f} ms, p95 {s95 * 1000:.0f} ms", flush=True)
    p50, p95 = float(np.percentile(waits, 50)), float(np.percentile(waits, 95))
    print(f"POST -> changed picture, {len(waits)}/{SAMPLES} samples, extra load {rate:,.0f} readings/s "
          f"(+ simulator): p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms", flush=True)
    report("picture latency p50 vs POST round trip", p50, float(np.median(posts)))
    report("picture latency p95 vs 1 s goal", p95, 1.0, target=1.0)


def serve_fast(store: str) -> None:
    """A server whose risk clock runs FAST x: the simulator and an in-process feed on that clock."""
    from app import TwinApp
    from twin.api import routes
    from twin.loading import load as load_scene
    from twin.risk.service import RiskService
    from twin.risk.simulator import Simulator
    from twin.server.security import AccessPolicy

    t0 = time.time()
    clock = lambda: t0 + (time.time() - t0) * FAST  # noqa: E731
    twin = load_scene(ROOT / "scenes" / "demo.toml")
    service = RiskService.from_twin(twin, store_path=Path(store), clock=clock)
    service.start()
    simulator = Simulator(service, clock=clock)
    simulator.start(period_s=1.0 / FAST)
    app = TwinApp(twin, risk=service)
    app.server.controller.on_server_bind.add(lambda ws: ws.app.add_routes(routes(service)))
    ids = service.sensors.ids.tolist()

    def feed() -> None:
        import pyarrow as pa
        quiet = [i for i, q in enumerate(service.sensors.quantity.tolist()) if q != "pressure"]
        base = np.array([{"gas": 1.0, "flow": 120.0, "water_level": 0.3, "strain": 300.0,
                          "temperature": 22.0}.get(q, 0.5) for q in service.sensors.quantity.tolist()])
        while True:
            now = int(clock() * 1000)
            n = LOAD_PER_S // 10
            pick = np.array(quiet)[np.arange(n) % len(quiet)]
            rows = pa.table({"sensor": pa.array([ids[i] for i in pick]),
                             "ts": pa.array(now - np.arange(n), pa.int64()),
                             "value": pa.array(base[pick])})
            service.ingest(rows)
            time.sleep(0.1)

    threading.Thread(target=feed, daemon=True).start()
    app.start(AccessPolicy(host="127.0.0.1"), port=0,
              on_ready=lambda port: print(f"CIM Twin serving at http://127.0.0.1:{port}/", flush=True))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory() -> None:
    import subprocess

    store = Path(tempfile.mkdtemp(prefix="twin-bench-")) / "risk.duckdb"
    process = subprocess.Popen([sys.executable, __file__, "--serve-fast", str(store)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in process.stdout:
            if "serving at" in line:
                url = line.split("serving at ")[1].strip()
                break
        if url is None:
            raise RuntimeError("the fast server did not start")
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        with browser() as chromium:
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "?risk=on")
            page.get_by_test_id("scene-name").wait_for(timeout=60_000)
            time.sleep(5)
            samples = {"start": rss_mb(process.pid)}
            time.sleep(FEED_S / 2)
            samples["middle"] = rss_mb(process.pid)
            time.sleep(FEED_S / 2)
            samples["end"] = rss_mb(process.pid)
            with urllib.request.urlopen(url + "api/risk/summary", timeout=30) as response:
                summary = json.loads(response.read())
        size = os.path.getsize(store) / 1e6 if store.exists() else 0.0
        print(f"server RSS over {FEED_S * FAST / 3600:.1f} h of simulated feed ({FEED_S:.0f} s real, "
              f"{LOAD_PER_S} readings/s + simulator): start {samples['start']:.0f} MB, middle "
              f"{samples['middle']:.0f} MB, end {samples['end']:.0f} MB; store {size:.0f} MB; "
              f"alerts {summary['alerts']}", flush=True)
        report("server RSS end vs start", samples["end"], samples["start"], target=1.25, unit="MB")
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    latency()
    if "--latency-only" not in sys.argv:
        memory()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-fast":
        serve_fast(sys.argv[2])
    else:
        main()
