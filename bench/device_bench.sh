#!/usr/bin/env bash
# GPU measurements on the lent device: `kizunasr bench` on 1080p frames, onnxruntime CUDA EP (streams 1/2/4) and the
# PyTorch backend, each next to a bare onnxruntime session; then the shader filter. Output: $OUT/*.json.
set -euo pipefail
source scripts/device_env.sh
M=.devdata/models
python3 -m kizunasr_vs doctor || true
for model in 2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx 2x_AnimeJaNai_HD_V3_Compact-fp32.onnx; do
  python3 -m kizunasr_vs bench --provider "${PROVIDER:-cuda}" --size 1920x1080 --frames "${FRAMES:-40}" --model "$M/$model" \
    --skip shader $(for s in ${STREAMS:-1 2 4}; do printf -- "--streams %s " "$s"; done) --json \
    | tee "$OUT/onnx_${PROVIDER:-cuda}_${model%%-*}.json"
done
[ "${SHADER:-1}" = 1 ] && python3 -m kizunasr_vs bench --size 1920x1080 --frames "${FRAMES:-40}" --skip onnx --json \
  | tee "$OUT/shader.json"
true
