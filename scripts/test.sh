#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole test suite (--slow: the tests marked slow too), ruff and mypy.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k onnx -x`.
# Tests that need a display start their own Xvfb; tests read third-party
# models from $KIZUNASR_SHARED/models (default: ../shared next to the repo).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

KIZUNASR_TORCH=1 bash "$REPO/scripts/setup.sh"  # with PyTorch: `kizunasr train` is tested

if [[ -z "${KIZUNASR_SHARED:-}" && -d "$REPO/../shared" ]]; then
    KIZUNASR_SHARED="$(cd "$REPO/../shared" && pwd)"
    export KIZUNASR_SHARED
fi
if ! command -v Xvfb >/dev/null 2>&1; then
    echo "[test] WARNING: Xvfb not found; tests that need a display will be skipped or fail" >&2
fi

PY="$REPO/.venv/bin/python"
status=0

echo "[test] pytest"
pytest_rc=0
"$PY" -m pytest -q -rs --slow "$@" || pytest_rc=$?
if ((pytest_rc == 5)); then
    echo "[test] pytest: no tests collected (treated as success)"
elif ((pytest_rc != 0)); then
    echo "[test] pytest FAILED (exit $pytest_rc)" >&2
    status=$pytest_rc
fi

echo "[test] ruff check kizunasr_vs tests"
if ! "$PY" -m ruff check -q kizunasr_vs tests; then
    echo "[test] ruff FAILED" >&2
    ((status == 0)) && status=1
fi

echo "[test] mypy kizunasr_vs"
if ! "$PY" -m mypy kizunasr_vs; then
    echo "[test] mypy FAILED" >&2
    ((status == 0)) && status=1
fi

if ((status == 0)); then
    echo "[test] all checks passed"
fi
exit "$status"
