"""The loss figure a training stage draws beside its weights (reports/<model>/loss.png): the loss per optimiser
step, its moving mean and a dotted line per epoch, on a log scale."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from difflab.png import plt, save_png


def loss_curve(losses: Sequence[float], steps_per_epoch: int, path: Path, title: str) -> None:
    steps = np.arange(1, len(losses) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, losses, lw=0.6, alpha=0.5, label="per step")
    window = max(1, min(50, len(losses) // 10))
    if window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, lw=1.5, label=f"moving mean ({window} steps)")
    for e in range(steps_per_epoch, len(losses), steps_per_epoch):
        ax.axvline(e, color="gray", lw=0.5, ls=":")
    ax.set(yscale="log", xlabel="optimiser step (dotted lines: epochs)", ylabel="training loss (MSE)", title=title)
    ax.legend()
    fig.tight_layout()
    save_png(fig, path)
