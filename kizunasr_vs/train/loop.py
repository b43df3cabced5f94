"""The training loop: Adam with a cosine schedule, L1 then L2 (PSNR) loss, resumable checkpoints, a progress bar.

A checkpoint (``checkpoint.pt`` in the run folder) holds the network, the optimiser, the step and the recipe; a
run started again in the same folder with the same tier continues from it. It is written through a temporary
file every ``checkpoint_every`` steps and at the end, so an interrupted run loses at most that many steps.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional
from torch.utils.data import DataLoader
from tqdm import tqdm

from kizunasr_vs.train.arch import LumaNet, build
from kizunasr_vs.train.data import PairStream

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class Recipe:
    """Everything a training run depends on (kept in the checkpoint and written beside the weights)."""

    tier: str = "m"
    steps: int = 30000
    batch: int = 64
    patch: int = 48  # LR patch side; HR is twice that
    lr: float = 2e-3
    l2_from: float = 0.75  # fraction of the steps after which the loss is L2 (PSNR) instead of L1
    drawn_fraction: float = 0.3  # share of patches from drawn cel pictures
    workers: int = 4
    seed: int = 0
    checkpoint_every: int = 1000


def learning_rate(recipe: Recipe, step: int) -> float:
    """Cosine decay from ``recipe.lr`` to 1% of it, after a 2% linear warm-up."""
    warm = max(1, recipe.steps // 50)
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, recipe.steps - warm)
    return recipe.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def save_checkpoint(folder: Path, model: LumaNet, optimiser: torch.optim.Optimizer, step: int,
                    recipe: Recipe) -> None:
    """Write the checkpoint through a temporary file, then rename it over the old one."""
    tmp = folder / (CHECKPOINT + ".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "recipe": asdict(recipe)}, tmp)
    os.replace(tmp, folder / CHECKPOINT)


def load_checkpoint(folder: Path) -> dict[str, object] | None:
    path = folder / CHECKPOINT
    return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None


def train(images: list[Path], folder: Path, recipe: Recipe, device: str = "auto", progress: bool = True) -> LumaNet:
    """Train (or go on training) a network of ``recipe.tier`` on ``images``; returns it on the CPU, in eval mode."""
    folder.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    torch.manual_seed(recipe.seed)
    model = build(recipe.tier).to(dev)
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    start = 0
    state = load_checkpoint(folder)
    if state is not None:
        if state["recipe"]["tier"] != recipe.tier:  # type: ignore[index]
            raise ValueError(f"{folder / CHECKPOINT} is a checkpoint of tier {state['recipe']['tier']!r}, "  # type: ignore[index]
                             f"not {recipe.tier!r}: use another --out folder, or the same tier to resume")
        model.load_state_dict(state["model"])  # type: ignore[arg-type]
        optimiser.load_state_dict(state["optimiser"])  # type: ignore[arg-type]
        start = int(state["step"])  # type: ignore[call-overload]
    stream = PairStream(images, recipe.patch, recipe.drawn_fraction, recipe.seed + start)
    loader = DataLoader(stream, batch_size=recipe.batch, num_workers=recipe.workers,
                        persistent_workers=recipe.workers > 0, pin_memory=dev.type == "cuda")
    batches = iter(loader)
    model.train()
    bar = tqdm(range(start, recipe.steps), initial=start, total=recipe.steps, disable=not progress,
               desc=f"train {recipe.tier}", unit="step")
    step = start
    for step in bar:
        lr_y, hr_y = (t.to(dev, non_blocking=True) for t in next(batches))
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(recipe, step)
        out = model(lr_y)
        loss = (functional.mse_loss(out, hr_y) if step >= recipe.l2_from * recipe.steps
                else functional.l1_loss(out, hr_y))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step % 100 == 0:
            bar.set_postfix(loss=f"{loss.item():.5f}")
        if (step + 1) % recipe.checkpoint_every == 0:
            save_checkpoint(folder, model, optimiser, step + 1, recipe)
    if recipe.steps > start:
        save_checkpoint(folder, model, optimiser, recipe.steps, recipe)
    return model.cpu().eval()
