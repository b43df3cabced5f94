#!/usr/bin/env bash
# On the lent GPU (../shared/tools/DEVICE.md): train the learned-shader ladder in one call. Three runs share the
# GPU and its CPU cores: new tiers from scratch on the same batches (run A), and the shipped m and l fine-tuned
# from their ONNX (runs M and L), all with film grain / scanlines and crisp line art in the mix.
# Carry: .whl .gl .traindata (the training frames: illus/ and broadcast/ subfolders, see train/DATA.md).
# Results: $OUT/runs.tgz (checkpoints, ONNX, GLSL, recipes, logs).
set -u
source scripts/device_env.sh >/dev/null
set +e
nvidia-smi -L
runs=/tmp/runs; mkdir -p "$runs"
common=(--balance-folders --batch 64 --jpeg 0.25 --blur 0.05 --soft 0.3 --grain 0.1 --crisp 0.3 --device cuda)
limit=${TRAIN_LIMIT_S:-520}
train() {  # NAME ARGS...: one run in the background, its log and wall time in $runs
  local name=$1; shift
  ( start=$(date +%s)
    timeout "$limit" python3 -m kizunasr_vs train .traindata -o "$runs/$name" "$@" "${common[@]}" >"$runs/$name.log" 2>&1
    echo "exit $? after $(( $(date +%s) - start )) s" >>"$runs/$name.log" ) &
}
train A --tier 4x2 --tier 4x3 --tier 4x4 --tier 8x2 --tier 8x3 --tier 8x4 --tier 12x4 --tier 12x5 --tier 16x3 \
  --steps "${STEPS_A:-12000}" --lr 0.002 --drawn 0.25 --workers 8
train M --tier m --init kizunasr_vs/train/weights/kizuna_cnn_x2_m.onnx --steps "${STEPS_ML:-6000}" --lr 0.0005 \
  --drawn 0.15 --workers 3
train L --tier l --init kizunasr_vs/train/weights/kizuna_cnn_x2_l.onnx --steps "${STEPS_ML:-6000}" --lr 0.0005 \
  --drawn 0.15 --workers 3
wait
tail -n 3 "$runs"/*.log
tar czf "$OUT/runs.tgz" -C /tmp runs
