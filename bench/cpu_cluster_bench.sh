#!/usr/bin/env bash
# Issue 9's CPU figures: the SD benchmark clip (24 frames, performance profile, ffv1) through the single-process
# path, `--cluster local:1` and `--cluster local:2`, in one run; prints wall time and fps for each.
# Usage: bash bench/cpu_cluster_bench.sh [CLIP] [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
clip=${1:-../shared/media/animejanai_bench_640x480.mp4}
frames=${2:-24}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for mode in single local:1 local:2; do
  extra=()
  [ "$mode" = single ] || extra=(--cluster "$mode" --chunk-frames 8)
  start=$(date +%s.%N)
  .venv/bin/python -m kizunasr_vs encode "$clip" "$out/${mode/:/}.mkv" --profile performance --codec ffv1 \
    --end "$frames" "${extra[@]}" > "$out/${mode/:/}.log" 2>&1 || { tail -5 "$out/${mode/:/}.log"; exit 1; }
  end=$(date +%s.%N)
  python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); print(f'{sys.argv[3]:<8} {s:7.1f} s  {int(sys.argv[4]) / s:.3f} fps')" \
    "$start" "$end" "$mode" "$frames"
done
