"""Reading validated tables out of a parsed TOML file (scene manifests, rules files).

Both files report a mistake the same way: the file, the key path (``sources[2].placement``)
and the problem; an unknown key is an error, so a typo never silently does nothing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from twin.errors import InputError


class TableReader:
    """Checks tables and raises ``error`` (an InputError class) naming the file and the key."""

    error: type[InputError] = InputError

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> InputError:
        return self.error(self.path, problem, where=f"key {key}")

    def table(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        """``value`` as a table whose keys are all in ``allowed``."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(
                f"{key}.{unknown[0]}" if key else unknown[0], f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )
        return value


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed TOML file ``path`` (a "``what`` file"), or an InputError saying why it cannot be read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read the {what} file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
