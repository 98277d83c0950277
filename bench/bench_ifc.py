"""IFC loading: our loader against the raw ifcopenshell iterator, first load and cached load.

For each sample file, in one run:

- ``raw``: ``ifcopenshell.open`` + ``ifcopenshell.geom.iterator`` in world coordinates,
  openings and spaces excluded, at its best thread count (1 or 2);
- ``first``: our ``load`` with an empty cache (worker processes, metadata, layers, cache write);
- ``cached``: our ``load`` again, served from the cache.

Targets: first / raw <= 1.10 and cached / first <= 0.05.  Peak memory: the largest worker
process, and this process (which also ran the raw iterator).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from common import best_time, peak_rss_mb, report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data_samples" / "ifc"
FILES = ("AC20-FZK-Haus.ifc", "duplex.ifc", "IfcOpenHouse_IFC4.ifc", "KIT-Simple-Road-Test-Web-IFC4x3_RC2.ifc")


def raw_iterator(path: Path, threads: int) -> int:
    import ifcopenshell
    import ifcopenshell.geom

    from loaders.ifc import header

    info = header.check(path)
    with tempfile.TemporaryDirectory() as tmp:
        readable = header.fallback_copy(path, info, Path(tmp) / path.name) if info.needs_fallback else path
        model = ifcopenshell.open(str(readable))
        settings = ifcopenshell.geom.settings()
        settings.set("use-world-coords", True)
        iterator = ifcopenshell.geom.iterator(settings, model, threads, exclude=["IfcOpeningElement", "IfcSpace"])
        n = 0
        if iterator.initialize():
            while True:
                shape = iterator.get()
                n += len(shape.geometry.verts_buffer) > 0
                if not iterator.next():
                    break
    return n


def bench_file(path: Path, repeat: int) -> None:
    from loaders.ifc import load

    raw = {threads: best_time(lambda threads=threads: raw_iterator(path, threads), repeat)[0] for threads in (1, 2)}
    threads = min(raw, key=raw.get)
    cache = Path(tempfile.mkdtemp(prefix="bench-ifc-"))

    def first():
        shutil.rmtree(cache, ignore_errors=True)
        return load(path, {"cache_dir": str(cache)})

    ours, source = best_time(first, repeat)
    cached, again = best_time(lambda: load(path, {"cache_dir": str(cache)}), max(repeat, 3))
    assert again.details["cached"]
    shutil.rmtree(cache, ignore_errors=True)
    print(
        f"-- {path.name}: {source.details['elements']} elements, {sum(p.dataset.n_cells for p in source.parts):,} "
        f"triangles, {source.details['processes']} worker process(es); raw best at {threads} thread(s) "
        f"(1: {raw[1]:.2f} s, 2: {raw[2]:.2f} s)"
    )
    report(f"ifc first load vs raw iterator [{path.stem}]", ours, raw[threads], 1.10)
    report(f"ifc cached load vs first load [{path.stem}]", cached, ours, 0.05)
    print(
        f"   peak memory: worker {source.details['worker_peak_mb']:.0f} MB (largest of "
        f"{source.details['processes']}), this process {peak_rss_mb():.0f} MB (it also ran the raw iterator)",
        flush=True,
    )


def main(files: tuple[str, ...] = FILES) -> None:
    for name in files:
        path = SAMPLES / name
        bench_file(path, repeat=2 if path.stat().st_size > 1 << 20 else 5)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main(tuple(sys.argv[1:]) or FILES)
