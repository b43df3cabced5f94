#!/usr/bin/env bash
# Sourced on the lent GPU device (../shared/tools/DEVICE.md): installs the carried wheels and onnxruntime-gpu
# (from the parts in /tmp/parts, if any: without them a shader-only session) into /tmp/site and sets the
# environment. Prepare here with scripts/device_prep.sh. Usage there: source scripts/device_env.sh
set -euo pipefail
if [ ! -d /tmp/site/platformdirs ]; then  # skipped by later calls in the same warm lease (installed)
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
if [ ! -f /tmp/site/onnxruntime/__init__.py ] && [ ! -f /tmp/parts/part_af ]; then
  echo "device_env: no onnxruntime-gpu parts in /tmp/parts: shader-only session (vapoursynth + vs-placebo)" >&2
elif [ ! -f /tmp/site/onnxruntime/__init__.py ]; then
  cat /tmp/parts/part_a? > /tmp/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  (cd /tmp && sha256sum -c "$OLDPWD/.ortgpu/SHA256")
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site /tmp/onnxruntime_gpu-*.whl
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
