"""What checking a model's sha256 on every load costs: sha256 of each model in a folder (median and minimum of
repeated runs) next to building an onnxruntime CPU session of the same file.

    python bench/model_hash_cost.py [--models DIR] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from common import SHARED

from kizunasr_vs.core.files import sha256_file


def timed_ms(action: Callable[[], object], repeat: int) -> list[float]:
    """Wall milliseconds of ``repeat`` calls of ``action`` (after one untimed call: the file is in the page cache)."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    import onnxruntime as ort

    for path in sorted(args.models.glob("*.onnx")):
        hashes = timed_ms(lambda p=path: sha256_file(p), args.repeat)
        session = timed_ms(lambda p=path: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]), 3)
        print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB, sha256 median {statistics.median(hashes):.2f} ms "
              f"(min {min(hashes):.2f}), onnxruntime CPU session median {statistics.median(session):.0f} ms")


if __name__ == "__main__":
    main()
