"""How several worker processes share one file's geometry (runs in the worker processes).

Every worker parses the file and makes the same plan from it: the products in chunks, the
most expensive first and the chunks smaller towards the end (guided self-scheduling).  Each
worker then claims the next unclaimed chunk by creating its marker file (``O_EXCL``: exactly
one process wins each), so a worker that drew a slow element simply claims fewer chunks, and
nobody waits on a static share that a cost estimate got wrong.

Products that map the same type shape (``IfcMappedItem`` of one ``IfcRepresentationMap``)
stay in one chunk: the kernel meshes a shared shape once per iterator, and in object
coordinates each of them is only placed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__:
    from loaders.ifc.semantics import BODY_IDENTIFIERS, attr
else:  # run as a script in the worker: the siblings only
    from semantics import BODY_IDENTIFIERS, attr  # type: ignore[import-not-found, no-redef]

#: estimated cost of a product's own shape, of each opening cut out of it, and of each entity
#: its shape and openings are made of (a stair or a railing of thousands of faces, a wall
#: clipped under the roof)
SHAPE_COST, OPENING_COST, ENTITY_COST = 1.0, 4.0, 0.01
#: estimated cost of one more product placing a shape already meshed
REUSE_COST = 0.05
#: each chunk is planned as this share of the work left per worker, and never smaller than this
#: share of one worker's whole work (each chunk costs an iterator: ~5-20 ms)
GUIDED_SHARE, SMALLEST_SHARE = 1 / 4, 1 / 16


def reuse_key(product: Any) -> tuple[int, ...]:
    """What a product's body shape is made of: the type shapes it maps, else the product itself."""
    shape = attr(product, "Representation")
    for rep in (shape.Representations or ()) if shape is not None else ():
        items = rep.Items or ()
        if rep.RepresentationIdentifier in BODY_IDENTIFIERS and items and all(i.is_a("IfcMappedItem") for i in items):
            if not attr(product, "HasOpenings", ()):
                return tuple(sorted(item.MappingSource.id() for item in items))
    return (-product.id(),)


def cost(model: Any, product: Any) -> float:
    """The estimated work of meshing a product: its shape, its openings and their size."""
    openings = [rel.RelatedOpeningElement for rel in attr(product, "HasOpenings", ())]
    shapes = [s for s in [attr(product, "Representation")] + [attr(o, "Representation") for o in openings] if s]
    entities = sum(len(model.traverse(shape)) for shape in shapes)
    return SHAPE_COST + OPENING_COST * len(openings) + ENTITY_COST * entities


def groups(model: Any, products: list[Any]) -> list[tuple[float, list[Any]]]:
    """Products that share a type shape, with their estimated cost, the most expensive first
    (a shared shape is meshed once: the group costs its first product's and a placement each)."""
    found: dict[tuple[int, ...], list[Any]] = {}
    for product in products:
        found.setdefault(reuse_key(product), []).append(product)
    costed = [(cost(model, g[0]) + REUSE_COST * (len(g) - 1), min(p.id() for p in g), g) for g in found.values()]
    costed.sort(key=lambda entry: (-entry[0], entry[1]))
    return [(group_cost, group) for group_cost, _, group in costed]


def plan(model: Any, products: list[Any], workers: int) -> list[list[Any]]:
    """The chunks, in the order they are claimed: the same in every worker for the same file."""
    costed = groups(model, products)
    remaining = sum(group_cost for group_cost, _ in costed)
    smallest = remaining / workers * SMALLEST_SHARE
    chunks: list[list[Any]] = []
    chunk: list[Any] = []
    chunk_cost = 0.0
    for group_cost, group in costed:
        chunk += group
        chunk_cost += group_cost
        if chunk_cost >= max(remaining / workers * GUIDED_SHARE, smallest):
            chunks.append(chunk)
            remaining -= chunk_cost
            chunk, chunk_cost = [], 0.0
    return chunks + [chunk] if chunk else chunks


def claimed(folder: Path, count: int) -> Iterator[int]:
    """The indices of the chunks this process wins, in order, until none is left."""
    for index in range(count):
        try:
            os.close(os.open(folder / str(index), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        yield index
