#!/usr/bin/env bash
# On the lent GPU machine (after scripts/device_env.sh): issue 9's GPU figures. 1080p -> 2160p with the quality
# profile (Compact fp16, CUDA EP), h264 out: single process, `--cluster local:1`, and `local:2
# --gpus-per-worker 0.5` (two actors on one GPU). Needs the ray and imageio-ffmpeg wheels in .raywhl (ray split
# into parts copied to /tmp/ray earlier; the device has no ffmpeg, imageio-ffmpeg's static build stands in).
set -euo pipefail
if [ ! -d /tmp/site/ray ]; then
  cat /tmp/ray/ray_part_a? > /tmp/ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl
  (cd /tmp && sha256sum -c "$OLDPWD/.raywhl/SHA256")
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site /tmp/ray-2.60.0-*.whl \
    .raywhl/imageio_ffmpeg-*.whl
fi
mkdir -p /tmp/bin && ln -sf /tmp/site/imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-* /tmp/bin/ffmpeg && chmod +x /tmp/bin/ffmpeg
export PATH=/tmp/bin:$PATH KIZUNASR_MODELS_DIR=$PWD/.devdata/models
CLIP=.devdata/media/animejanai_bench_1920x1080.mp4
FRAMES=${FRAMES:-1440}
run() {
  local name=$1; shift
  local start=$SECONDS
  python3 -m kizunasr_vs encode "$CLIP" "/tmp/out_$name.mkv" --profile quality --codec h264 --end "$FRAMES" "$@" \
    > "$OUT/cluster_$name.log" 2>&1 || { tail -20 "$OUT/cluster_$name.log"; return 1; }
  local wall=$((SECONDS - start))
  echo "$name: $FRAMES frames in ${wall} s wall (startup included): $(python3 -c "print(round($FRAMES / max($wall, 1), 1))") fps; $(grep -o 'chunks.*' "$OUT/cluster_$name.log" | tail -1)"
}
run single
run local1 --cluster local:1 --chunk-frames 240
run local2 --cluster local:2 --gpus-per-worker 0.5 --chunk-frames 240
