"""The one small exception hierarchy of CIM Twin.

Every problem a user can cause (a bad file, a bad manifest, an unknown format) is a
:class:`InputError` whose message names the file, the place in it and the problem, so the
command line can print it as one line and the app can show it beside the layer that failed.
"""

from __future__ import annotations

from pathlib import Path


class TwinError(Exception):
    """Base of every error CIM Twin raises on purpose."""


class InputError(TwinError, ValueError):
    """A file (or request) that cannot be used as it is.

    Parameters
    ----------
    path
        The file at fault (or ``None`` for a request without a file).
    problem
        What is wrong, in words a user understands.
    where
        Where in the file: ``"line 12"``, ``"entity #345"``, ``"byte 1024"``, ``"key sources[0].path"``.
    hint
        Optional advice on how to fix it.
    """

    def __init__(
        self, path: str | Path | None, problem: str, where: str | None = None, hint: str | None = None
    ) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.where = where
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [str(self.path)] if self.path is not None else []
        if self.where:
            parts.append(self.where)
        parts.append(self.problem)
        text = ": ".join(parts)
        return f"{text}\nHint: {self.hint}" if self.hint else text


class UnsupportedInputError(InputError):
    """No registered loader can read this file."""


class ManifestError(InputError):
    """A scene manifest with a wrong, missing or unknown key."""


class LoaderFailure(InputError):
    """A loader's worker crashed, hung or ran out of memory on a file."""
