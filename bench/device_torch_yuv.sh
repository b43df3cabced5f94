#!/usr/bin/env bash
# On the lent GPU (../shared/tools/DEVICE.md): the torch backend with YUV planes converted on the GPU and CUDA
# graphs. Checks (pytest where the device has it; PSNR against CPU fp32), then `kizunasr bench` YUV420P8 -> P10,
# 1080p -> 2160p, for each MODELS entry with CUDA graphs on and off, next to raw onnxruntime in the same run.
# Usage there: [MODELS="SUC SPAN C"] [GRAPHS="1 0"] [STREAMS="4"] [FRAMES=96] [COMPILE=1] [CHECKS=0]
#              bash bench/device_torch_yuv.sh            (JSON results in $OUT)
set -euo pipefail
source scripts/device_env.sh
M=.devdata/models
declare -A NAME=([SUC]=2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx [UC]=2x_AnimeJaNai_HD_V3_UltraCompact-fp32.onnx
  [C]=2x_AnimeJaNai_HD_V3_Compact-fp32.onnx [SPAN]=2x_AnimeJaNai_HD_V3.1_Balanced_SPANF3_b8f64_unshuffle_fp16.onnx
  [SPANP]=2x_AnimeJaNai_HD_V3.1_Performance_SPANF3_b5f48_unshuffle_fp16.onnx)
export KIZUNASR_MODELS_DIR=$M KIZUNASR_SHARED=$PWD/.devdata
if [ "${CHECKS:-1}" = 1 ]; then
  python3 -m pytest -q -p no:cacheprovider tests/inference/test_torch_yuv.py tests/inference/test_torch_backend.py 2>&1 | tail -5 || true
  python3 bench/device_yuv_check.py "$M/${NAME[SUC]}" .devdata/media/anime4k_bird_HR.png torch cuda 2>&1 \
    | tee "$OUT/yuv_check.txt" || true
fi
summary="import json, sys
for r in json.load(sys.stdin)['results']:
    print('%-92s %7.1f fps  raw %6.1f  ratio %.2f' % (r['what'][5:], r['filter_fps'], r['baseline_fps'], r['ratio']))"
for m in ${MODELS:-SUC SPAN C}; do
  for graphs in ${GRAPHS:-1 0}; do
    nographs=$([ "$graphs" = 0 ] && echo --no-cuda-graphs || true)
    python3 -m kizunasr_vs bench --provider "$([ "${COMPILE:-0}" = 1 ] && echo torch-compile || echo torch)" $nographs \
      --size 1920x1080 --frames "${FRAMES:-96}" --model "$M/${NAME[$m]}" --skip shader --yuv \
      $(for s in ${STREAMS:-4}; do printf -- "--streams %s " "$s"; done) --json \
      | tee "$OUT/torch_${m}_graphs${graphs}_compile${COMPILE:-0}.json" | python3 -c "$summary" \
      | sed "s/^/graphs=$graphs compile=${COMPILE:-0} /"
  done
done
