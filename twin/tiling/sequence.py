"""A CityJSONSeq file cut into parts that load in parallel, each a valid CityJSONSeq itself.

A ``.city.jsonl`` holds one header line (the CityJSON object: version, transform, CRS) and then
one ``CityJSONFeature`` per line.  A part is the header followed by a run of whole lines of about
``chunk_bytes``; its buildings still go to the tiles under their centres, and the tiles that
several parts reach are joined when written.  Plain byte copying: no JSON is parsed here.
"""

from __future__ import annotations

import os
from pathlib import Path

from twin.tiling.state import digest

SEQUENCE_SUFFIXES = (".jsonl",)


def split_sequence(path: Path, folder: Path, chunk_bytes: int, source_hash: str) -> list[Path]:
    """The parts of ``path`` in ``folder`` (made once per source hash; later runs reuse them)."""
    marker = folder / "parts.txt"
    if marker.exists():
        lines = marker.read_text(encoding="utf-8").splitlines()
        if lines and lines[0] == source_hash and all(Path(p).exists() for p in lines[1:]):
            return [Path(p) for p in lines[1:]]
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    with open(path, "rb") as source:
        header = source.readline()
        while True:
            block = source.read(chunk_bytes)
            if not block:
                break
            block += source.readline()  # to the end of the line the block stopped in
            part = folder / f"part-{len(parts)}-{digest(source_hash)[:8]}.city.jsonl"
            temporary = part.with_name(f".{part.name}.{os.getpid()}.tmp")
            temporary.write_bytes(header + block)
            temporary.replace(part)
            parts.append(part)
    marker.write_text("\n".join([source_hash, *map(str, parts)]), encoding="utf-8")
    return parts
