#!/usr/bin/env bash
# GPU measurements on the lent device (see ../shared/tools/DEVICE.md): installs the carried wheels, then runs
# `kizunasr bench` on 1080p frames. Output: $OUT/*.json. Usage there: bash scripts/device_bench.sh
set -euo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
if [ ! -f /tmp/site/onnxruntime/__init__.py ]; then
  cat /tmp/parts/part_a? > /tmp/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  (cd /tmp && sha256sum -c "$OLDPWD/.ortgpu/SHA256")
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site /tmp/onnxruntime_gpu-*.whl
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
M=.devdata/models
python3 -m kizunasr_vs doctor || true
for model in 2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx 2x_AnimeJaNai_HD_V3_Compact-fp32.onnx; do
  python3 -m kizunasr_vs bench --provider cuda --size 1920x1080 --frames "${FRAMES:-40}" --model "$M/$model" \
    --skip shader --streams 1 --streams 2 --streams 4 --json | tee "$OUT/onnx_${model%%-*}.json"
done
python3 -m kizunasr_vs bench --size 1920x1080 --frames "${FRAMES:-40}" --skip onnx --json | tee "$OUT/shader.json"
