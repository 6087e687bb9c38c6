"""Write the hostile test corpus to disk, for trying files by hand in the app or the CLI.

    python tests/make_hostile_corpus.py [--out tests/hostile]

Image cases (tests/hostile_images.py) go to <out>/images/, model cases (tests/hostile_models.py,
when it exists) to <out>/models/. One line is printed per case: its file, its size and what
vizcore must do with it. The output folder is generated and ignored by git.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]  # vizcore and the case modules, from any working folder


def _describe(expectation) -> str:
    from hostile_images import Refused

    if expectation is None:
        return ""
    if isinstance(expectation, Refused):
        return f"refuse ({expectation.says})"
    return f"accept {expectation.width}x{expectation.height}: {expectation.promise}"


def write_cases(cases: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, entry in cases.items():
        write, expectation = entry if isinstance(entry, tuple) else (entry, None)
        path = Path(write(folder))
        print(f"{folder.name}/{path.name:32s} {path.stat().st_size:>12,} bytes  {name}: {_describe(expectation)}".rstrip(" :"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=TESTS / "hostile", help="output folder (default: tests/hostile)")
    out = parser.parse_args(argv).out

    import hostile_images

    write_cases(hostile_images.CASES, out / "images")
    try:
        hostile_models = importlib.import_module("hostile_models")
    except ModuleNotFoundError as error:
        if error.name != "hostile_models":
            raise
        print("tests/hostile_models.py is not there yet: no model cases written.")
        return 0
    if not hasattr(hostile_models, "CASES"):
        print("tests/hostile_models.py defines no CASES yet: no model cases written.")
        return 0
    write_cases(hostile_models.CASES, out / "models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
