#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the main job:
#   bash scripts/run.sh                  2x upscale of the built-in sample -> out/sample_2x.mkv (replaced on
#                                        each run: it is this script's own output)
#   bash scripts/run.sh INPUT OUTPUT     2x upscale of INPUT
# All arguments are passed to `kizunasr upscale` (see `kizunasr upscale --help`).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash "$REPO/scripts/setup.sh"

if [[ -z "${KIZUNASR_SHARED:-}" && -d "$REPO/../shared" ]]; then
    KIZUNASR_SHARED="$(cd "$REPO/../shared" && pwd)"
    export KIZUNASR_SHARED
fi

if [[ $# -eq 0 ]]; then
    # The default job writes its own default output: a second run replaces it. An OUTPUT the user names is
    # never replaced without their --overwrite.
    exec "$REPO/.venv/bin/kizunasr" upscale --overwrite
fi
exec "$REPO/.venv/bin/kizunasr" upscale "$@"
