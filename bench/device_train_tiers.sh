#!/usr/bin/env bash
# On the lent GPU (../shared/tools/DEVICE.md): train the learned-shader ladder in one call. The tiers train from
# scratch on the same batches (CReLU activations, dense tails), with film grain / scanlines and crisp line art in
# the mix, from a bank of pairs made once with every core (tiny networks outpace the making of pairs), in large
# batches (a step of a tiny network costs its kernel launches, not its arithmetic).
# Carry: .whl .gl .traindata (the training frames: illus/ and broadcast/ subfolders, see train/DATA.md).
# Results: $OUT/runs.tgz (checkpoints, ONNX, GLSL, recipes, log).
set -u
source scripts/device_env.sh >/dev/null
set +e
nvidia-smi -L
runs=/tmp/runs; mkdir -p "$runs"
start=$(date +%s)
timeout "${TRAIN_LIMIT_S:-400}" python3 -m kizunasr_vs train .traindata -o "$runs/T" \
  --tier 4x4cd --tier 4x5cd --tier 8x2cd --tier 8x3cd --tier 8x4cd --tier 12x3cd --tier 12x4cd --tier 16x5cd \
  --steps "${STEPS:-6000}" --batch 256 --lr 0.003 --bank 200000 --workers 15 --balance-folders \
  --drawn 0.25 --crisp 0.3 --grain 0.1 --jpeg 0.35 --blur 0.05 --soft 0.3 --device cuda >"$runs/T.log" 2>&1
echo "exit $? after $(( $(date +%s) - start )) s" >>"$runs/T.log"
tail -n 4 "$runs/T.log"
tar czf "$OUT/runs.tgz" -C /tmp runs
