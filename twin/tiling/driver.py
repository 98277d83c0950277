"""The Dask driver: plan the jobs of a scene, run them on a cluster, assemble the tileset.

Wave one cuts every source (point clouds in spatial chunks) into pieces; as soon as a source and
every source before it are cut, its rows in the asset index are known and its tiles are written
(wave two, in batches).  Finished tiles are journalled as they come, so a killed build resumes;
a source whose content hash is unchanged is not loaded again and its tiles are skipped.  A
worker that dies (a native crash, ``kill -9``) loses only its running task, which the scheduler
gives to another worker.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.manifest import Manifest, SourceEntry, read_manifest
from twin.registry import installed
from twin.tiling import jobs
from twin.tiling.frame import LocalFrame
from twin.tiling.grid import TileGrid, node_uri
from twin.tiling.index import stack, write_asset_index
from twin.tiling.merge import UniqueIds, merge_chunks
from twin.tiling.sequence import SEQUENCE_SUFFIXES, split_sequence
from twin.tiling.state import (
    TILER_VERSION,
    WORK,
    BuildState,
    atomic_write,
    digest,
    file_digest,
    remove_partial_writes,
)
from twin.tiling.tileset import Content, tileset_document

Progress = Callable[[int, int, str], None]


@dataclass
class BuildOptions:
    """How to build: the cluster (``workers`` local processes, or a ``scheduler`` address, or a
    ``client`` already connected), leaf size, chunk sizes of point clouds (points) and CityJSONSeq
    files (bytes), and tiles per task."""

    workers: int = 2
    scheduler: str | None = None
    client: Any = None
    tile_size: float = 128.0
    chunk_points: int = 2_000_000
    chunk_bytes: int = 8 << 20  # CityJSONSeq parts (about 9,000 LoD1/LoD2 buildings)
    batch: int = 16
    progress: Progress | None = None
    #: asset id -> its risk level name ("red", "orange", "yellow", "blue") baked into the features
    #: (``twin tile --risk-from STORE``); an asset not named is "none"
    risk: Mapping[str, str] | None = None


@dataclass
class BuildReport:
    """What a build did: per source and per tile, with every failure and its reason."""

    out: Path
    sources: list[dict[str, Any]] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)  # the uris of the tiles this run wrote
    skipped: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def written(self) -> int:
        return len(self.rebuilt)

    def as_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "ok": self.ok,
            "written": self.written,
            "skipped": self.skipped,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "sources": self.sources,
            "failures": self.failures,
            "rebuilt": self.rebuilt,
        }


def build_tileset(scene: str | Path, out: str | Path, options: BuildOptions | None = None) -> BuildReport:
    """Tile a scene manifest (or one data file) into ``out``; see the module docstring."""
    options = options or BuildOptions()
    started = time.perf_counter()
    manifest = _manifest(Path(scene))
    out = Path(out)
    (out / WORK).mkdir(parents=True, exist_ok=True)
    with _client(options) as client:
        build = _Build(manifest, out, options, client)
        report = build.run()
    report.seconds = time.perf_counter() - started
    return report


def _manifest(path: Path) -> Manifest:
    if not path.exists():
        raise InputError(path, "no such file")
    if path.suffix.lower() == ".toml":
        return read_manifest(path)
    return Manifest(path=path.resolve(), name=path.stem, sources=[SourceEntry(path=path.resolve())])


@contextmanager
def _client(options: BuildOptions) -> Iterator[Any]:
    """The Dask client: the given one, one for ``scheduler``, or a LocalCluster of processes."""
    if options.client is not None:
        yield options.client
        return
    from distributed import Client, LocalCluster

    if options.scheduler:
        with Client(options.scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=max(1, options.workers), threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


class _Build:
    """One run: the jobs, their futures and what came back."""

    def __init__(self, manifest: Manifest, out: Path, options: BuildOptions, client: Any) -> None:
        self.manifest, self.out, self.options, self.client = manifest, out, options, client
        self.grid = TileGrid(options.tile_size)
        remove_partial_writes(out)  # a killed run's half-written tiles: never read, never kept
        self.state = BuildState(out)
        self.report = BuildReport(out)
        self.done, self.total = 0, 0

    # -- planning -------------------------------------------------------------------------
    def run(self) -> BuildReport:
        crs, origin = self._frame()
        self.frame = LocalFrame(crs, origin)
        plans = [self._plan(i, entry, crs, origin) for i, entry in enumerate(self.manifest.sources)]
        plans = self._replacements(plans)
        results = self._cut_and_write(plans)
        self._finish(plans, results)
        return self.report

    def _frame(self) -> tuple[str, tuple[float, float, float]]:
        """The scene CRS and origin: the manifest's, else what the first source gives."""
        crs, origin = self.manifest.crs, self.manifest.origin
        if crs is None or origin is None:
            probe = self.client.submit(jobs.probe_source, self._job(0, self.manifest.sources[0], "", (0, 0, 0)))
            found = probe.result()
            crs = crs or found["crs"]
            origin = origin or tuple(found["origin"] or (0.0, 0.0, 0.0))
        if not crs:
            raise InputError(
                self.manifest.path,
                "the scene has no CRS: 3D Tiles place a city on the Earth through it",
                hint='set crs = "EPSG:...." in the manifest',
            )
        x, y, z = (float(v) for v in origin)
        return crs, (x, y, z)

    def _job(self, index: int, entry: SourceEntry, crs: str, origin: tuple[float, float, float]) -> jobs.SourceJob:
        name = entry.name or entry.path.stem.split(".")[0]
        placement = (entry.placement.offset, entry.placement.rotation_deg, entry.placement.scale)
        source_hash = digest(
            str(TILER_VERSION),
            file_digest(entry.path),
            json.dumps(
                [str(entry.kind), str(entry.crs), placement, entry.options, crs, origin], sort_keys=True, default=str
            ),
            str(self.options.tile_size),
            self.manifest.palette,
            *_named_files(entry),
        )
        return jobs.SourceJob(
            name=name,
            path=str(entry.path),
            kind=entry.kind,
            crs=entry.crs,
            placement=placement,
            options=dict(entry.options),
            scene_crs=crs,
            origin=origin,
            palette=self.manifest.palette,
            tile_size=self.options.tile_size,
            work=str(self.out / WORK / "sources" / f"{index:04d}-{digest(name)[:8]}"),
            hash=source_hash,
        )

    def _plan(
        self, index: int, entry: SourceEntry, crs: str, origin: tuple[float, float, float]
    ) -> list[jobs.SourceJob]:
        """The jobs of a source: itself, or one per spatial chunk of a point cloud or per part of a
        CityJSONSeq file."""
        job = self._job(index, entry, crs, origin)
        kind = _kind(entry)
        if kind == "city" and entry.path.name.endswith(SEQUENCE_SUFFIXES):
            if entry.path.stat().st_size <= self.options.chunk_bytes:
                return [job]
            parts = split_sequence(entry.path, Path(job.work) / "parts", self.options.chunk_bytes, job.hash)
            return [
                _with(job, path=str(p), chunk=f"part-{n}", work=f"{job.work}/part-{n}") for n, p in enumerate(parts)
            ]
        if kind != "pointcloud":
            return [job]
        probe = self.client.submit(jobs.probe_source, _with(job, options={**job.options, "budget": 1})).result()
        details = probe["details"]
        # the header's bounds: those of the points read are the budget-1 sample's
        total, bounds = int(details.get("points_total", 0)), details.get("header_bounds") or details.get("bounds")
        if not bounds or total <= self.options.chunk_points:
            return [_with(job, options={**job.options, "budget": max(total, 1)})]
        return [
            _with(
                job,
                chunk=f"chunk-{n}",
                work=f"{job.work}/chunk-{n}",
                options={**job.options, "box": box, "budget": total},
            )
            for n, box in enumerate(_chunk_boxes(bounds, math.ceil(total / self.options.chunk_points)))
        ]

    def _replacements(self, plans: list[list[jobs.SourceJob]]) -> list[list[jobs.SourceJob]]:
        """City jobs told what the scene's IFC models replace (README "IFC over the city model"):
        each source is cut alone, so the plan gathers the claims first, the ids a model's
        ``replaces`` names or else its footprint, from a cut of the model that wave one reuses."""
        kinds = [_kind(entry) for entry in self.manifest.sources]
        if "ifc" not in kinds or "city" not in kinds:
            return plans
        claims: list[Any] = []
        for plan, entry, kind in zip(plans, self.manifest.sources, kinds):
            named = entry.options.get("replaces")
            if kind != "ifc":
                continue
            if isinstance(named, list):
                claims.append((plan[0].name, [str(v) for v in named], None))
            else:  # the model's footprint: its cut, in parallel with the other models'
                claims.append((plan[0].name, None, self.client.submit(jobs.cut_source, plan[0], pure=False)))
        claims = [(name, named, box if box is None else box.result().footprint) for name, named, box in claims]
        claims = [claim for claim in claims if claim[1] is not None or claim[2] is not None]
        if not claims:
            return plans
        tag = json.dumps(claims)
        return [
            [_with(job, replaced=tuple(claims), hash=digest(job.hash, tag)) for job in plan] if kind == "city" else plan
            for plan, kind in zip(plans, kinds)
        ]

    # -- running ----------------------------------------------------------------------------
    def _cut_and_write(self, plans: list[list[jobs.SourceJob]]) -> list[list[jobs.SourceResult]]:
        from distributed import as_completed

        where: dict[str, tuple[int, int]] = {}
        futures = []
        for i, plan in enumerate(plans):
            for j, job in enumerate(plan):
                future = self.client.submit(jobs.cut_source, job, key=f"cut-{i}-{j}-{job.hash[:12]}", pure=False)
                where[future.key] = (i, j)
                futures.append(future)
        self.total = len(futures)
        results: list[list[jobs.SourceResult | None]] = [[None] * len(plan) for plan in plans]
        self.fragments: list[Any] = []
        self.ids = UniqueIds()
        pending = as_completed(futures)  # type: ignore[no-untyped-call]
        next_source, offset = 0, 0
        for future in pending:
            if future.key in where:
                i, j = where[future.key]
                result = future.result()
                results[i][j] = result
                self._tick(f"{result.name} {result.status}")
                while next_source < len(plans) and all(r is not None for r in results[next_source]):
                    done = [r for r in results[next_source] if r is not None]
                    offset = self._submit_tiles(done, offset, pending)
                    next_source += 1
            else:
                self._record_tiles(future.result())
        return [[r for r in source if r is not None] for source in results]

    def _record_tiles(self, entries: list[dict[str, Any]]) -> None:
        """A batch of written tiles: journalled at once (a kill keeps them), failures reported."""
        self.state.record(entries)
        for entry in entries:
            if entry["status"] == "ok":
                self.report.rebuilt.append(entry["uri"])
            else:
                self.report.failures.append({"tile": entry["uri"], "source": entry["source"], "error": entry["error"]})
        self._tick(entries[-1]["uri"] if entries else "")

    def _submit_tiles(self, results: list[jobs.SourceResult], offset: int, pending: Any) -> int:
        """Submit the tiles of a cut source, now that its first asset row is known; the next offset."""
        ok = [r for r in results if r.status != "failed"]
        if len(ok) < len(results):
            self.fragments.append(None)
            return offset
        fragment, maps = merge_chunks([Path(r.work) / "assets.parquet" for r in ok], offset)
        fragment, renamed = self.ids.claim(fragment, results[0].name)
        self.fragments.append(fragment)
        renamed = tuple(offset + r for r in renamed)
        risk_file, risk_hash = self._risk_of(fragment, results[0].name, offset)
        parts: dict[str, list[tuple[dict[str, Any], int | tuple[int, ...], str]]] = {}
        for n, result in enumerate(ok):
            mapping = offset if maps is None else maps[n]
            rows = mapping if isinstance(mapping, int) else tuple(int(v) for v in mapping)
            rows_hash = digest(str(mapping) if isinstance(mapping, int) else mapping.tobytes(), repr(renamed))
            for piece in result.pieces:
                parts.setdefault(node_uri(tuple(piece["key"]), piece["layer"]), []).append((piece, rows, rows_hash))
        batch: list[jobs.TileJob] = []
        for uri, pieces in parts.items():
            tile_hash = digest(str(TILER_VERSION), risk_hash, *(p["hash"] + h for p, _, h in pieces))
            if self.state.is_done(uri, tile_hash) and (self.out / uri).exists():
                self.report.skipped += 1
                continue
            first = pieces[0][0]
            batch.append(
                jobs.TileJob(
                    uri=uri,
                    parts=tuple((p["file"], rows) for p, rows, _ in pieces),
                    hash=tile_hash,
                    out=str(self.out),
                    source=ok[0].name,
                    layer=first["layer"],
                    family=first["family"],
                    renamed=renamed,
                    single_sided=all(p.get("single_sided", False) for p, _, _ in pieces),
                    risk_file=risk_file,
                    risk_offset=offset,
                )
            )
        for start in range(0, len(batch), self.options.batch):
            chunk = batch[start : start + self.options.batch]
            # ahead of the cuts still queued: tiles reach the disk (and the journal) as early as they can
            future = self.client.submit(
                jobs.write_tiles, chunk, key=f"tiles-{chunk[0].hash[:16]}", pure=False, priority=1
            )
            pending.add(future)
            self.total += 1
        return offset + int(fragment.num_rows)

    def _risk_of(self, fragment: Any, source: str, offset: int) -> tuple[str, str]:
        """The risk codes of a source's index rows (:data:`jobs.RISK_LEVELS`) in a file its tile jobs
        read, and their digest (part of each tile's hash: a changed level rewrites that source's
        tiles); ``("", "")`` when no asset of it is at risk."""
        if not self.options.risk:
            return "", ""
        code = {name: c for c, name in enumerate(jobs.RISK_LEVELS)}
        risk = self.options.risk
        levels = np.fromiter(
            (code.get(risk.get(i, "none"), 0) for i in fragment.column("id").to_pylist()), np.uint8, fragment.num_rows
        )
        if not levels.any():
            return "", ""
        levels_hash = digest(levels.tobytes())
        file = self.out / WORK / "risk" / f"{digest(source)[:16]}-{offset}-{levels_hash[:16]}.npy"
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            np.save(buffer, levels, allow_pickle=False)
            atomic_write(file, buffer.getvalue())
        return str(file), levels_hash

    def _tick(self, what: str) -> None:
        self.done += 1
        if self.options.progress:
            self.options.progress(self.done, self.total, what)

    # -- assembling -------------------------------------------------------------------------
    def _finish(self, plans: list[list[jobs.SourceJob]], results: list[list[jobs.SourceResult]]) -> None:
        self.layers: dict[str, dict[str, str]] = {}
        self.contents: dict[str, Content] = {}
        self.current: dict[str, dict[str, Any]] = {}
        self.elements = {"triangles": 0, "points": 0}
        sources = {plan[0].name: self._source_summary(plan, source) for plan, source in zip(plans, results)}
        contents, current, counts = list(self.contents.values()), self.current, self.elements
        table = stack([f for f in self.fragments if f is not None])
        counts = {"assets": table.num_rows, "tiles": len(contents), **counts}
        groups = list(self.layers.values())
        extras = {
            "version": 1,
            "crs": self.frame.crs,
            "origin": list(self.frame.origin),
            "assets": "assets.parquet",
            "layers": [{"name": v["name"], "kind": v["kind"], "network": v["network"]} for v in groups],
            "counts": counts,
        }
        document = tileset_document(contents, groups, self.frame, self.grid, extras)
        write_asset_index(table, self.out)
        atomic_write(self.out / "tileset.json", json.dumps(document, indent=1).encode("utf-8"))
        self._remove_stale(current)
        self.state.save(
            {
                "version": TILER_VERSION,
                "scene": str(self.manifest.path),
                "tile_size": self.grid.size,
                "sources": sources,
                "tiles": current,
            }
        )
        self.report.counts = counts
        self.report.sources = [{"name": k, **v} for k, v in sources.items()]

    def _source_summary(self, plan: list[jobs.SourceJob], source: list[jobs.SourceResult]) -> dict[str, Any]:
        """A source's line in build.json and the report; its tiles join the tileset's contents."""
        errors = [r.error for r in source if r.status == "failed"]
        for error in errors:
            self.report.failures.append({"source": plan[0].name, "error": error})
        uris = set()
        for result in source if not errors else []:
            for layer in result.layers:
                self.layers.setdefault(layer["name"], layer)
            for piece in result.pieces:
                uris.add(self._add_content(piece))
        status = "failed" if errors else ("reused" if all(r.status == "reused" for r in source) else "ok")
        return {
            "path": plan[0].path,
            "hash": plan[0].hash,
            "status": status,
            "error": "; ".join(errors),
            "chunks": len(plan),
            "tiles": len(uris),
        }

    def _add_content(self, piece: dict[str, Any]) -> str:
        """A piece's GLB in the tileset (once, with the union of its chunks' bounds); its uri."""
        uri = node_uri((piece["key"][0], piece["key"][1], piece["key"][2]), piece["layer"])
        entry = self.state.tiles.get(uri, {})
        self.current[uri] = entry
        if entry.get("status") != "ok":
            return uri
        self.elements["triangles" if piece["family"] == "mesh" else "points"] += int(piece["elements"])
        known = self.contents.get(uri)
        bounds = list(piece["bounds"])
        if known is not None:
            bounds = [*np.minimum(known.bounds[:3], bounds[:3]), *np.maximum(known.bounds[3:], bounds[3:])]
        group = list(self.layers).index(piece["layer"])
        self.contents[uri] = Content(
            uri, (piece["key"][0], piece["key"][1], piece["key"][2]), group, piece["family"], bounds
        )
        return uri

    def _remove_stale(self, current: dict[str, dict[str, Any]]) -> None:
        """GLBs of an earlier build that this one no longer has (a source removed or moved)."""
        for uri in set(self.state.tiles) - set(current):
            (self.out / uri).unlink(missing_ok=True)


def _with(job: jobs.SourceJob, **changes: Any) -> jobs.SourceJob:
    return replace(job, **changes)


def _kind(entry: SourceEntry) -> str:
    try:
        return installed().find(entry.path, entry.kind).kind
    except InputError:
        return ""  # cut_source reports it


def _named_files(entry: SourceEntry) -> list[str]:
    """Digests of the files a source's options name beside it (a drape grid, say): they change its tiles."""
    named = []
    for value in entry.options.values():
        if isinstance(value, str) and value and (entry.path.parent / value).is_file():
            named.append(file_digest(entry.path.parent / value))
    return named


def _chunk_boxes(bounds: list[float], count: int) -> list[list[float]]:
    """``count`` (or a few more) xy boxes tiling ``[xmin, xmax, ymin, ymax, ...]`` without overlap."""
    nx = max(1, math.ceil(math.sqrt(count)))
    ny = max(1, math.ceil(count / nx))
    xs, ys = np.linspace(bounds[0], bounds[1], nx + 1), np.linspace(bounds[2], bounds[3], ny + 1)
    boxes = []
    for i in range(nx):
        for j in range(ny):
            x1 = xs[i + 1] if i == nx - 1 else np.nextafter(xs[i + 1], -np.inf)  # edges belong to one box
            y1 = ys[j + 1] if j == ny - 1 else np.nextafter(ys[j + 1], -np.inf)
            boxes.append([float(xs[i]), float(x1), float(ys[j]), float(y1)])
    return boxes
