#!/usr/bin/env bash
# Here, before GPU runs: ../shared/tools/device-prep.sh (wheels, onnxruntime-gpu parts, GL loaders, models and
# media), then the package's pure-Python dependencies the device lacks (platformdirs, tqdm, jsonschema and its
# own) and Pillow (training) into .whl/ for the device's Python 3.12. On the device: source scripts/device_env.sh.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/tools/device-prep.sh
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl platformdirs tqdm jsonschema pillow
