#!/usr/bin/env bash
# On the lent GPU (../shared/tools/DEVICE.md): train the learned-shader ladder in one call. Two runs share the GPU
# and its CPU cores: the new tiers from scratch on the same batches (run A, dense tails), and the shipped m
# fine-tuned from its ONNX (run M), with film grain / scanlines and crisp line art in the mix. Each run makes a
# bank of pairs once with its workers, then trains from it (tiny networks outpace the making of pairs).
# Carry: .whl .gl .traindata (the training frames: illus/ and broadcast/ subfolders, see train/DATA.md).
# Results: $OUT/runs.tgz (checkpoints, ONNX, GLSL, recipes, logs).
set -u
source scripts/device_env.sh >/dev/null
set +e
nvidia-smi -L
runs=/tmp/runs; mkdir -p "$runs"
common=(--balance-folders --batch 64 --blur 0.05 --soft 0.3 --grain 0.1 --crisp 0.3 --device cuda)
limit=${TRAIN_LIMIT_S:-540}
train() {  # NAME ARGS...: one run in the background, its log and wall time in $runs
  local name=$1; shift
  ( start=$(date +%s)
    timeout "$limit" python3 -m kizunasr_vs train .traindata -o "$runs/$name" "$@" "${common[@]}" >"$runs/$name.log" 2>&1
    echo "exit $? after $(( $(date +%s) - start )) s" >>"$runs/$name.log" ) &
}
train A --tier 4x3d --tier 4x4d --tier 4x5d --tier 8x2d --tier 8x3d --tier 8x4d --tier 12x3d --tier 12x4d \
  --tier 16x3d --steps "${STEPS_A:-16000}" --lr 0.002 --drawn 0.25 --jpeg 0.35 --bank 250000 --workers 11
train M --tier m --init kizunasr_vs/train/weights/kizuna_cnn_x2_m.onnx --steps "${STEPS_M:-10000}" --lr 0.0005 \
  --drawn 0.15 --jpeg 0.45 --bank 100000 --workers 4
wait
tail -n 3 "$runs"/*.log
tar czf "$OUT/runs.tgz" -C /tmp runs
