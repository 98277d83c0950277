"""The loader registry: which loader reads which file.

The table of loaders lives in one place (``loaders/__init__.py``).  A loader's module is
imported only when a file of its kind is asked for, so a heavy or missing optional
dependency (ifcopenshell, laspy) costs nothing until it is needed, and a failure to import
becomes a clear error naming the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from twin.errors import InputError, UnsupportedInputError
from twin.source import LoadedSource


class LoadFunction(Protocol):
    def __call__(self, path: Path, options: Mapping[str, Any]) -> LoadedSource: ...


@dataclass(frozen=True)
class LoaderSpec:
    """One registered loader.

    ``module`` is imported lazily and must define ``load(path, options) -> LoadedSource``.
    ``sniff`` looks at the first bytes of a file and says whether this loader can open it;
    it decides between loaders that share a suffix (``.json``, ``.inp``).
    """

    kind: str
    name: str
    suffixes: tuple[str, ...]
    module: str
    sniff: Callable[[bytes], bool] | None = None
    requires: tuple[str, ...] = field(default_factory=tuple)

    def function(self) -> LoadFunction:
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise InputError(
                None,
                f"the {self.name} loader cannot be imported ({exc})",
                hint=f"install its dependencies: {', '.join(self.requires) or exc.name}",
            ) from exc
        result: LoadFunction = module.load
        return result


def _normalise_suffix(suffix: str) -> str:
    suffix = suffix.lower()
    return suffix if suffix.startswith(".") else f".{suffix}"


class Registry:
    """Maps suffixes and kinds to :class:`LoaderSpec` entries."""

    SNIFF_BYTES = 4096

    def __init__(self, specs: Iterable[LoaderSpec] = ()) -> None:
        self._specs: list[LoaderSpec] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: LoaderSpec) -> None:
        if any(s.name == spec.name for s in self._specs):
            raise ValueError(f"a loader named {spec.name!r} is registered already")
        self._specs.append(
            LoaderSpec(
                spec.kind,
                spec.name,
                tuple(map(_normalise_suffix, spec.suffixes)),
                spec.module,
                spec.sniff,
                spec.requires,
            )
        )

    @property
    def specs(self) -> list[LoaderSpec]:
        return list(self._specs)

    def suffixes(self) -> list[str]:
        return sorted({s for spec in self._specs for s in spec.suffixes})

    def find(self, path: Path, kind: str | None = None) -> LoaderSpec:
        """The loader for ``path``: by the kind or loader name given, else by suffix and content."""
        if kind:
            named = [s for s in self._specs if kind in (s.kind, s.name)]
            if not named:
                known = sorted({s.kind for s in self._specs} | {s.name for s in self._specs})
                raise UnsupportedInputError(path, f"unknown kind {kind!r}", hint=f"known kinds: {', '.join(known)}")
            candidates = named
        else:
            suffixes = [s.lower() for s in path.suffixes[-2:]]
            candidates = [s for s in self._specs if any(x in s.suffixes for x in suffixes)]
            # the longest matching suffix wins (".city.json" before ".json")
            candidates.sort(key=lambda s: -max(len(x) for x in s.suffixes if x in suffixes))
        if len(candidates) > 1:
            # content decides between loaders sharing a suffix; with no match the first
            # loader by suffix reads the file and says what is wrong with it
            head = _head(path, self.SNIFF_BYTES)
            sniffed = [s for s in candidates if s.sniff is None or s.sniff(head)]
            candidates = sniffed or candidates
        if not candidates:
            raise UnsupportedInputError(
                path,
                f"no loader reads {''.join(path.suffixes[-1:]) or 'files without a suffix'} files like this one",
                hint=f"supported: {', '.join(self.suffixes())}, or name the kind in a scene manifest",
            )
        return candidates[0]


def _head(path: Path, size: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a data file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None
