"""Run every benchmark in ``bench/`` (or those named): ``python bench/run.py [name ...]``.

Each ``bench/bench_*.py`` is a script with a ``main()`` that prints ratio lines.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> None:
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    for script in sorted(HERE.glob("bench_*.py")):
        if names and script.stem.removeprefix("bench_") not in names:
            continue
        print(f"== {script.stem}", flush=True)
        spec = importlib.util.spec_from_file_location(script.stem, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
