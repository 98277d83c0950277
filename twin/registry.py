"""The loader registry: which loader reads which file.

A loader is any object that fulfils the :class:`Loader` protocol: its kind, name, suffixes,
the options it takes (with their types), a ``sniff`` of a file's first bytes and ``load``.
Loaders are found through the ``cim_twin.loaders`` entry points (as xarray finds its
backends), so a separate package adds one by declaring, in its ``pyproject.toml``::

    [project.entry-points."cim_twin.loaders"]
    shapefile = "my_package.shapefile:LOADER"

and the core never imports a loader by name.  An entry point whose import fails (a missing
optional dependency) does not break the others: it is listed with its error, which is what a
user asking for such a file is told.

The object an entry point names should be light: its suffixes, options and sniff are read for
every file, so its load function is best named by :func:`lazy` (``lazy("my_package.shapefile:load")``)
and imported on the first load, as the built-in loaders do (``loaders/catalog.py``).  Then
``twin info house.ifc`` imports the IFC loader and no other.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from twin.errors import InputError, UnsupportedInputError

if TYPE_CHECKING:  # annotations only: finding a loader must not import the scene model (pyvista)
    from twin.source import LoadedSource

ENTRY_POINT_GROUP = "cim_twin.loaders"

#: the type (or types) an option's value must have; ``object`` accepts any value
OptionType = type | tuple[type, ...]

#: keys the twin itself passes every loader (a loader uses those it needs, ignores the rest)
CONTEXT_OPTIONS: Mapping[str, OptionType] = {
    "palette": str,
    "placed": bool,
    "origin": object,
    "replaces": list,  # a manifest source's: the city buildings its model replaces
}


@runtime_checkable
class Loader(Protocol):
    """What a loader provides (the object a ``cim_twin.loaders`` entry point names)."""

    @property
    def kind(self) -> str:
        """The kind ``twin info`` reports (``ifc``, ``pointcloud``, ``pipes``, ``city``, ...)."""
        ...

    @property
    def name(self) -> str:
        """Unique among loaders; a manifest's ``kind`` may name it to pick this loader."""
        ...

    @property
    def suffixes(self) -> tuple[str, ...]: ...

    @property
    def options(self) -> Mapping[str, OptionType]:
        """The options it takes and their types: an unknown key or a wrong type is an error."""
        ...

    def sniff(self, head: bytes) -> bool:
        """Whether a file starting with ``head`` is one it reads (decides between shared suffixes)."""
        ...

    def load(self, path: Path, options: Mapping[str, Any]) -> LoadedSource: ...


def any_file(head: bytes) -> bool:
    """The sniff of a loader that alone reads its suffixes."""
    return True


class lazy:  # noqa: N801 - used as a function, like functools.partial
    """A function named ``"module:attribute"``, imported on its first call (then kept).

    What a loader declaration gives as its load function, so declaring a loader costs no import.
    """

    def __init__(self, target: str) -> None:
        module, _, attribute = target.partition(":")
        if not module or not attribute:
            raise ValueError(f"{target!r} is not 'module:attribute'")
        self.target = target
        self._function: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        """The function itself, importing its module the first time."""
        if self._function is None:
            module, _, attribute = self.target.partition(":")
            self._function = getattr(importlib.import_module(module), attribute)
        return self._function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy({self.target!r})"


@dataclass(frozen=True)
class LoaderSpec:
    """A loader made of its parts: what a loader module declares as its ``LOADER``."""

    kind: str
    name: str
    suffixes: tuple[str, ...]
    load_function: Callable[[Path, Mapping[str, Any]], LoadedSource]
    sniff_function: Callable[[bytes], bool] = any_file
    options: Mapping[str, OptionType] = field(default_factory=dict)

    def sniff(self, head: bytes) -> bool:
        return self.sniff_function(head)

    def load(self, path: Path, options: Mapping[str, Any]) -> LoadedSource:
        return self.load_function(path, options)


def check_options(loader: Loader, path: Path, options: Mapping[str, Any]) -> None:
    """Refuse an option the loader does not take, or a value of the wrong type, naming the key."""
    known = {**CONTEXT_OPTIONS, **loader.options}
    for key, value in options.items():
        if key not in known:
            raise InputError(
                path,
                f"the {loader.name} loader takes no option {key!r}",
                where=f"options.{key}",
                hint=f"its options: {', '.join(sorted(loader.options)) or 'none'}",
            )
        wanted = known[key]
        types = wanted if isinstance(wanted, tuple) else (wanted,)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            continue  # an integer where a number is asked for
        if value is not None and not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            raise InputError(path, f"must be {names}, not {value!r}", where=f"options.{key}")


def _normalise_suffix(suffix: str) -> str:
    suffix = suffix.lower()
    return suffix if suffix.startswith(".") else f".{suffix}"


class Registry:
    """Maps suffixes, kinds and names to loaders."""

    SNIFF_BYTES = 4096

    def __init__(self, loaders: Iterable[Loader] = (), unavailable: Mapping[str, str] | None = None) -> None:
        self._loaders: list[Loader] = []
        self._suffixes: dict[str, tuple[str, ...]] = {}
        #: entry points that could not be imported, by name, with the reason
        self.unavailable: dict[str, str] = dict(unavailable or {})
        for loader in loaders:
            self.register(loader)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> Registry:
        """Every installed loader; one that fails to import is listed in ``unavailable``."""
        found: list[Loader] = []
        unavailable: dict[str, str] = {}
        for point in sorted(entry_points(group=group), key=lambda p: p.name):
            try:
                loader = point.load()
            except ImportError as exc:
                unavailable[point.name] = f"cannot be imported ({exc}); install its dependencies"
                continue
            if not isinstance(loader, Loader):
                unavailable[point.name] = f"{point.value} is not a loader (see twin.registry.Loader)"
                continue
            found.append(loader)
        return cls(found, unavailable)

    def register(self, loader: Loader) -> None:
        if any(known.name == loader.name for known in self._loaders):
            raise ValueError(f"a loader named {loader.name!r} is registered already")
        self._loaders.append(loader)
        self._suffixes[loader.name] = tuple(map(_normalise_suffix, loader.suffixes))

    @property
    def loaders(self) -> list[Loader]:
        return list(self._loaders)

    def suffixes(self) -> list[str]:
        return sorted({s for suffixes in self._suffixes.values() for s in suffixes})

    def find(self, path: Path, kind: str | None = None) -> Loader:
        """The loader for ``path``: by the kind or loader name given, else by suffix and content."""
        if kind:
            candidates = [known for known in self._loaders if kind in (known.kind, known.name)]
            if not candidates:
                raise UnsupportedInputError(path, f"unknown kind {kind!r}", hint=self._known_hint())
        else:
            suffixes = [s.lower() for s in path.suffixes[-2:]]
            matching = {
                known.name: max(len(x) for x in self._suffixes[known.name] if x in suffixes)
                for known in self._loaders
                if any(x in self._suffixes[known.name] for x in suffixes)
            }
            # the longest matching suffix wins (".city.json" before ".json"), then the name
            candidates = sorted(
                (known for known in self._loaders if known.name in matching),
                key=lambda known: (-matching[known.name], known.name),
            )
        if len(candidates) > 1:
            # content decides between loaders sharing a suffix; with no match the first
            # loader by suffix reads the file and says what is wrong with it
            head = _head(path, self.SNIFF_BYTES)
            candidates = [known for known in candidates if known.sniff(head)] or candidates
        if not candidates:
            raise UnsupportedInputError(
                path,
                f"no loader reads {''.join(path.suffixes[-1:]) or 'files without a suffix'} files like this one",
                hint=f"supported: {', '.join(self.suffixes())}, or name the kind in a scene manifest"
                + self._unavailable_hint(),
            )
        return candidates[0]

    def _known_hint(self) -> str:
        known = sorted({x.kind for x in self._loaders} | {x.name for x in self._loaders})
        return f"known kinds: {', '.join(known)}" + self._unavailable_hint()

    def _unavailable_hint(self) -> str:
        return "".join(f"; loader {name!r} {why}" for name, why in sorted(self.unavailable.items()))


@functools.cache
def installed() -> Registry:
    """The registry of the installed loaders, read from the entry points once per process."""
    return Registry.from_entry_points()


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
