"""How the IFC loader uses its worker processes: started early, sized by the work, sharing chunks."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from conftest import DATA

import loaders.ifc as ifc
from loaders.ifc import chunks, runner, semantics

IFC = DATA / "ifc"
HOUSE = IFC / "AC20-FZK-Haus.ifc"
DUPLEX = IFC / "duplex.ifc"
SMALL = IFC / "IfcOpenHouse_IFC4.ifc"


@functools.cache
def model(path: Path):
    """The parsed file, kept for the module: its entities live only as long as it does."""
    import ifcopenshell

    return ifcopenshell.open(str(path))


def products(path: Path) -> list:
    return semantics.shaped_products(model(path), True)


def test_warm_up_starts_the_fork_server_without_a_load():
    runner.WORKERS.stop()
    ifc.warm_up()
    assert runner.WORKERS.pid is not None
    assert ifc.load(SMALL, {"cache": False}).details["elements"] == 35


def test_a_load_from_the_cache_starts_no_worker(tmp_path):
    options = {"cache_dir": str(tmp_path)}
    ifc.load(SMALL, options)
    runner.WORKERS.stop()
    assert ifc.load(SMALL, options).details["cached"]
    assert runner.WORKERS.pid is None


def test_small_files_get_one_process_and_big_ones_one_per_core_as_far_as_their_products_go(monkeypatch):
    assert ifc._processes({}, SMALL, SMALL.stat().st_size) == 1
    assert ifc._processes({"processes": 3}, SMALL, SMALL.stat().st_size) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    shapes = ifc._count_shapes(HOUSE, 10**9)
    assert ifc._processes({}, HOUSE, HOUSE.stat().st_size) == shapes // ifc.PRODUCTS_PER_PROCESS
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert ifc._processes({}, DUPLEX, DUPLEX.stat().st_size) == 1  # one core, however much work


def test_a_machine_with_little_memory_gets_fewer_processes(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(ifc, "half_the_memory_mb", lambda: 70)  # room for one parse of the duplex (~57 MB)
    assert ifc._processes({}, DUPLEX, DUPLEX.stat().st_size) == 1


@pytest.mark.parametrize("workers", [2, 3, 8])
@pytest.mark.parametrize("path", [HOUSE, DUPLEX], ids=lambda p: p.stem)
def test_the_plan_covers_every_product_once_and_keeps_shared_type_shapes_together(path, workers):
    shaped = products(path)
    plan = chunks.plan(model(path), shaped, workers)
    planned = [p.id() for chunk in plan for p in chunk]
    assert sorted(planned) == sorted(p.id() for p in shaped)
    chunk_of = {p.id(): i for i, chunk in enumerate(plan) for p in chunk}
    by_key: dict[tuple[int, ...], set[int]] = {}
    for p in shaped:
        by_key.setdefault(chunks.reuse_key(p), set()).add(chunk_of[p.id()])
    assert all(len(found) == 1 for found in by_key.values())
    assert any(len(key) == 1 and key[0] > 0 for key in by_key)  # some products do map a type shape
    again = chunks.plan(model(path), products(path), workers)
    assert [[p.id() for p in c] for c in again] == [[p.id() for p in c] for c in plan]  # the same in every worker


def test_each_chunk_is_claimed_by_exactly_one_worker(tmp_path):
    first, second = chunks.claimed(tmp_path, 10), chunks.claimed(tmp_path, 10)
    mine, theirs = [next(first)], [next(second)]
    mine += [next(first), next(first)]
    theirs += list(second)
    mine += list(first)
    assert sorted(mine + theirs) == list(range(10)) and not set(mine) & set(theirs)
