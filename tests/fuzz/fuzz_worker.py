"""The task the fuzz tests run in a memory-capped worker: load one input and say how it ended.

It runs in a :class:`twin.workers.ResidentWorker` (RLIMIT_AS capped, killed at a time limit),
so a hang, a crash or a runaway allocation costs one case, not the suite.  What a user would
see decides the ending:

- ``loaded`` / ``warned``: a twin came back (with warnings or failed sources: the rest loads),
  its ``twin info --json`` strict JSON and its bounds finite and within the coordinate limit;
- ``input_error``: an :class:`~twin.errors.InputError` whose message is one line (what the
  CLI prints with exit status 2);
- anything else is a finding: ``traceback`` (an unexpected exception, or a source that failed
  with an internal loader error), ``memory_error``, ``multi_line``, ``bad_json``, ``nonsense``.
"""

from __future__ import annotations

import json
import math
import traceback
from typing import Any


def run_case(path: str, kind: str | None) -> dict[str, Any]:
    import twin
    from twin.errors import InputError
    from twin.geo import MAX_COORDINATE
    from twin.summary import describe

    try:
        scene = twin.load(path, kind=kind)
        info = describe(scene, 0.0)
        json.dumps(info, allow_nan=False)
    except InputError as exc:
        one_line = str(exc).replace("\nHint: ", " (hint: ", 1)
        return {"end": "multi_line" if "\n" in one_line else "input_error", "message": one_line[:300]}
    except MemoryError:
        return {"end": "memory_error", "message": "MemoryError"}
    except ValueError as exc:  # allow_nan=False
        if "JSON compliant" in str(exc):
            return {"end": "bad_json", "message": str(exc)}
        return _traceback(exc)
    except Exception as exc:  # the finding: what a user would see as a traceback
        return _traceback(exc)
    internal = [s.error for s in scene.sources if s.error and "internal error in the loader" in s.error]
    if internal:
        return {"end": "traceback", "message": internal[0][:300]}
    bounds = [b for b in info["bounds"] if b is not None]
    if any(not math.isfinite(b) or abs(b) > MAX_COORDINATE for b in bounds):
        return {"end": "nonsense", "message": f"bounds {info['bounds']}"}
    warned = bool(info["warnings"]) or any(s.error for s in scene.sources)
    return {"end": "warned" if warned else "loaded", "message": f"{info['assets']} assets"}


def _traceback(exc: BaseException) -> dict[str, Any]:
    last = traceback.extract_tb(exc.__traceback__)[-1:]
    where = f" at {last[0].filename.rsplit('/', 2)[-2:]}:{last[0].lineno}" if last else ""
    return {"end": "traceback", "message": f"{type(exc).__name__}: {str(exc)[:200]}{where}"}
