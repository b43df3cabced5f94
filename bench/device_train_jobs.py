#!/usr/bin/env python3
"""On the lent GPU: several training jobs at once, one process each, all drawing from one bank of pairs.

A tiny network's training step is mostly kernel launches and memory traffic, so one process per network lets
their launches overlap, where one process steps every network in turn (``kizunasr train --tier A --tier B``). The
bank is made once, before any process touches CUDA, and the job processes are forked from it. Each job times a
short trial while all of them run (a barrier starts the trials together: a job timed while others were still
starting planned too many steps once), fixes its step count to end by the deadline (the cosine schedule needs the
count up front), and writes ``checkpoint_<tier>.pt`` every 5000 steps and at the end, in the format ``kizunasr
train`` resumes and ``bench/checkpoint_fidelity.py`` scores.

Jobs of one ``soft`` share (the share of production-softened targets) and one set of reductions share a bank;
INIT is an exported network (``.onnx``) or a checkpoint (``.pt``) of the same shape (empty: a fresh start);
FILTERS the comma-separated reductions of the inputs (default all: ``degrade.DOWNSCALE_FILTERS``; a name given
twice is drawn twice as often); JPEG the share of JPEG-compressed inputs (default ``--jpeg``); SEED the seed of the
job's weights and batch order (default 0: jobs that differ only in SEED are ingredients of a weight average).

Usage: python bench/device_train_jobs.py FRAMES OUT_DIR --seconds S
    --job NAME:TIER:LR:SOFT[:INIT[:FILTERS[:JPEG[:SEED]]]]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional

from kizunasr_vs.train.arch import LumaNet, build
from kizunasr_vs.train.data import PairStream, bank_batches, find_images, folder_weights, make_bank
from kizunasr_vs.train.degrade import ALL_FILTERS
from kizunasr_vs.train.export import network_from_onnx
from kizunasr_vs.train.loop import Recipe, checkpoint_path, learning_rate, load_checkpoint, save_checkpoint

TRIAL_STEPS = int(os.environ.get("TRIAL_STEPS", 150))


def run_job(name: str, tier: str, lr: float, init: str, bank: tuple[torch.Tensor, torch.Tensor], recipe: Recipe,
            out: Path, deadline: float, together: Any) -> None:
    """Train one network until ``deadline`` (a ``time.time()``), with a step count measured to fit; the jobs
    time their trials ``together`` (a barrier), so that each measures its speed while all of them run."""
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    if dev.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // together.parties))

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    torch.manual_seed(recipe.seed)
    lr_bank, hr_bank = (t.to(dev) for t in bank)

    def fresh() -> LumaNet:
        model = build(tier).to(dev)
        if init.endswith(".onnx"):
            model.load_state_dict(network_from_onnx(Path(init)).state_dict())
        elif init:
            state = load_checkpoint(Path(init))
            assert state is not None, init
            model.load_state_dict(state["model"])
        return model

    trial = fresh()
    optimiser = torch.optim.Adam(trial.parameters(), lr=lr)
    batches = bank_batches(lr_bank, hr_bank, recipe.batch, recipe.seed + 1)
    for i in range(TRIAL_STEPS + 20):  # 20 to warm up cuDNN's choices
        if i == 20:
            sync()
            together.wait()
            t0 = time.time()
        x, y = next(batches)
        loss = functional.l1_loss(trial(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    sync()
    per_step = (time.time() - t0) / TRIAL_STEPS
    steps = int(0.9 * (deadline - time.time()) / per_step)
    recipe = replace(recipe, steps=steps, lr=lr)
    print(f"{name}: {per_step * 1000:.2f} ms a step, {steps} steps", file=sys.stderr, flush=True)

    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    model = fresh()
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    batches = bank_batches(lr_bank, hr_bank, recipe.batch, recipe.seed)
    start = time.time()
    for step in range(steps):
        x, y = next(batches)
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(recipe, step)
        loss_fn = functional.mse_loss if step >= recipe.l2_from * steps else functional.l1_loss
        loss = loss_fn(model(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if (step + 1) % 5000 == 0 or step + 1 == steps:
            save_checkpoint(checkpoint_path(folder, tier), model, optimiser, step + 1, recipe)
            print(f"{name}: step {step + 1}/{steps}, loss {loss.item():.6f}, {time.time() - start:.0f} s",
                  file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("frames", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, required=True, help="wall time for everything, bank included")
    parser.add_argument("--job", action="append", required=True,
                        help="NAME:TIER:LR:SOFT[:INIT[:FILTERS[:JPEG[:SEED]]]]")
    parser.add_argument("--jpeg", type=float, default=0.35, help="share of JPEG-compressed inputs (default 0.35)")
    parser.add_argument("--h264", type=float, default=0.0,
                        help="share of every bank's inputs coded by x264 (train.codec; needs ffmpeg; default 0)")
    parser.add_argument("--bank", type=int, default=200000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--l2-from", type=float, default=Recipe.l2_from, help="share of steps before L2")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    args = parser.parse_args()
    deadline = time.time() + args.seconds
    torch.set_num_threads(1)  # no OpenMP pool in the parent: forked children would hang on it
    recipe = Recipe(batch=args.batch, l2_from=args.l2_from, h264_prob=args.h264, drawn_fraction=0.25,
                    crisp_fraction=0.3, grain_prob=0.1, jpeg_prob=args.jpeg, blur_prob=0.05, bank=args.bank,
                    balance_folders=True, workers=args.workers)  # soft_prob: each job's own
    images = find_images(args.frames)
    BankKey = tuple[float, tuple[str, ...], float]  # soft share, reductions, JPEG share
    jobs_by_bank: dict[BankKey, list[tuple[str, str, float, str, int]]] = {}
    for spec in args.job:
        name, tier, lr, soft, init, filters, jpeg, seed = (spec.split(":") + ["", "", "", ""])[:8]
        key = (float(soft), tuple(filters.split(",")) if filters else ALL_FILTERS,
               float(jpeg) if jpeg else recipe.jpeg_prob)
        jobs_by_bank.setdefault(key, []).append((name, tier, float(lr), init, int(seed or 0)))
    banks: dict[BankKey, tuple[torch.Tensor, torch.Tensor]] = {}
    for soft, filters, jpeg in jobs_by_bank:
        stream = PairStream(images, recipe.patch, recipe.drawn_fraction, recipe.seed, recipe.blur_prob,
                            jpeg, soft, folder_weights(images, args.frames), recipe.grain_prob,
                            recipe.crisp_fraction, filters)
        t0 = time.time()
        banks[soft, filters, jpeg] = make_bank(stream, recipe.bank, 256, recipe.workers, h264_share=args.h264,
                                               seed=recipe.seed)
        print(f"bank of {recipe.bank} pairs (soft {soft}, {'+'.join(filters)}, JPEG {jpeg}, H.264 {args.h264}) "
              f"in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    fork = multiprocessing.get_context("fork")  # CUDA is first touched in the children
    jobs = []
    together = fork.Barrier(len(args.job))
    for (soft, filters, jpeg), specs in jobs_by_bank.items():
        for name, tier, lr, init, seed in specs:
            jobs.append(fork.Process(target=run_job, args=(
                name, tier, lr, init, banks[soft, filters, jpeg],
                replace(recipe, soft_prob=soft, filters=filters, jpeg_prob=jpeg, seed=seed),
                args.out, deadline - 15, together)))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    print("exit codes " + " ".join(str(job.exitcode) for job in jobs), file=sys.stderr)


if __name__ == "__main__":
    main()
