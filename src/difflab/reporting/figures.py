"""Figures: labelled image grids, curves and GIFs of the reverse process. Images are (N, C, H, W) in [0, 1]."""

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from difflab.png import plt, save_png


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    img = img.detach().float().cpu().clamp(0, 1)
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def image_rows(rows: Sequence[torch.Tensor], path: Path, title: str = "", row_labels: Sequence[str] = (),
               col_labels: Sequence[str] = (), cell: float = 1.3) -> None:
    """One row of images per tensor in `rows` (all of the same length), with optional row and column labels; column
    labels are wrapped at 32 characters a line and a column widened to its longest line (about 0.07 inch a character
    at the labels' 9 points)."""
    nrows, ncols = len(rows), max(len(r) for r in rows)
    col_labels = ["\n".join(part for line in str(label).splitlines() for part in textwrap.wrap(line, 32) or [""])
                  for label in col_labels]
    longest = max((len(line) for label in col_labels for line in label.splitlines()), default=0)
    width = max(cell, 0.07 * longest)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols + 0.8, cell * nrows + 0.6), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(row):
                ax.imshow(_to_hwc(row[j]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if j == 0 and i < len(row_labels):
                ax.set_ylabel(row_labels[i], fontsize=9)
            if i == 0 and j < len(col_labels):
                ax.set_title(col_labels[j], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_png(fig, path)


def update_rows(noisy: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor, path: Path, title: str,
                col_labels: Sequence[str], cell: float = 1.6) -> tuple[float, float]:
    """The course's "visualizing velocity": one column per time, rows the noisy image (`noisy`, [0, 1] for display),
    the predicted update, the true update (signed, the channels' mean, on one symmetric scale -L .. L shared by both
    rows and every column) and the per-pixel RMS error between them (over channels; 0 .. its largest, one scale for
    every column). Returns (L, the largest error): the limits, the same at every t."""
    predicted, true = predicted.detach().float().cpu(), true.detach().float().cpu()
    signed = [predicted.mean(1), true.mean(1)]
    error = (predicted - true).pow(2).mean(1).sqrt()
    limit = max(float(x.abs().max()) for x in signed) or 1.0
    worst = float(error.max()) or 1.0
    ncols = len(col_labels)
    fig, axes = plt.subplots(4, ncols, figsize=(cell * ncols + 1.6, cell * 4 + 0.6), squeeze=False)
    rows = [("noisy x_t", None), ("predicted update", signed[0]), ("true update", signed[1]),
            ("RMS error", error)]
    shown = {}
    for i, (label, values) in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            if values is None:
                ax.imshow(_to_hwc(noisy[j]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            elif label == "RMS error":
                shown[i] = ax.imshow(values[j].numpy(), cmap="magma", vmin=0, vmax=worst, interpolation="nearest")
            else:
                shown[i] = ax.imshow(values[j].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit,
                                     interpolation="nearest")
            if j == 0:
                ax.set_ylabel(label, fontsize=9)
            if i == 0:
                ax.set_title(col_labels[j], fontsize=9)
    fig.colorbar(shown[2], ax=[axes[1][-1], axes[2][-1]], fraction=0.05, label="update (model units)")
    fig.colorbar(shown[3], ax=[axes[3][-1]], fraction=0.05, label="RMS error")
    fig.suptitle(title, fontsize=11)
    save_png(fig, path)
    return limit, worst


def grid(images: torch.Tensor, ncols: int) -> list[torch.Tensor]:
    """Split a batch into rows of ncols images, for image_rows."""
    return [images[i:i + ncols] for i in range(0, len(images), ncols)]


def metric_curve(xs: Sequence[float], series: dict[str, Sequence[float]], path: Path, title: str, xlabel: str,
                 ylabel: str, mark_x: float | None = None) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    if mark_x is not None:
        ax.axvline(mark_x, color="gray", ls=":", label=f"training value ({mark_x})")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_png(fig, path)


def success_bars(rows: dict[str, tuple[float, dict[str, float]]], path: Path, title: str) -> None:
    """One horizontal bar per row: the fraction of seeds where every part came out right, with how often each part
    alone did as labelled dots (rows[label] = (success, {part: fraction})); the first row on top."""
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.4))
    y = np.arange(len(labels))[::-1]
    ax.barh(y, [rows[k][0] for k in labels], color="C0", alpha=0.75, label="every view / part right")
    for yi, k in zip(y, labels):
        for i, (part, v) in enumerate(rows[k][1].items()):  # names above and below in turn: close dots stay legible
            ax.plot(v, yi, "o", color="C1", ms=5)
            ax.annotate(part, (v, yi), xytext=(3, 4 if i % 2 == 0 else -10), textcoords="offset points", fontsize=7)
    ax.plot([], [], "o", color="C1", ms=5, label="each view / part alone")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlim=(0, 1.08), xlabel="fraction of seeds the judge labels as asked", title=title)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_png(fig, path)


def steps_curves(curves: dict[str, dict[int, tuple[float, float]]], floor: float, path: Path, title: str,
                 dashed: Sequence[str] = ()) -> None:
    """Judged accuracy (left) and judge Frechet distance (right) against the number of sampling steps, one line per
    model: curves[label][steps] = (accuracy, distance); the distance's floor as a dotted line."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {}
    for label, points in curves.items():
        steps = sorted(points)
        family = label.split(",")[0]  # one colour per model family ("DDPM", "flow matching"), dashes for the rest
        color = colors.setdefault(family, f"C{len(colors)}")
        style = dict(marker="o", color=color, ls="--" if label in dashed else "-", label=label)
        axes[0].plot(steps, [points[k][0] for k in steps], **style)
        axes[1].plot(steps, [points[k][1] for k in steps], **style)
    axes[1].axhline(floor, color="gray", ls=":", label="floor: real training digits")
    axes[0].set(ylabel="fraction judged as the digit asked for", ylim=(0, 1.02))
    axes[1].set(ylabel="judge Frechet distance to the test set", yscale="log")
    ticks = sorted({k for points in curves.values() for k in points})
    for ax in axes:
        ax.set(xscale="log", xlabel="sampling steps (network evaluations per image and CFG half)")
        ax.set_xticks(ticks, [str(k) for k in ticks])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_png(fig, path)


def tile(images: torch.Tensor, ncols: int, scale: int = 3, pad: int = 1) -> np.ndarray:
    """A uint8 mosaic of a batch (for GIF frames), each image upscaled by `scale` with nearest neighbours."""
    n, c, h, w = images.shape
    nrows = -(-n // ncols)
    h2, w2 = h * scale + pad, w * scale + pad
    out = np.full((nrows * h2 + pad, ncols * w2 + pad, c), 255, dtype=np.uint8)
    pix = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    pix = pix.repeat_interleave(scale, 2).repeat_interleave(scale, 3).permute(0, 2, 3, 1).numpy()
    for k in range(n):
        r, q = divmod(k, ncols)
        out[pad + r * h2: pad + r * h2 + h * scale, pad + q * w2: pad + q * w2 + w * scale] = pix[k]
    return out[..., 0] if c == 1 else out


def save_gif(frames: Sequence[np.ndarray], path: Path, ms_per_frame: int = 60, hold_last_ms: int = 1500) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pics = [Image.fromarray(f) for f in frames]
    durations = [ms_per_frame] * (len(pics) - 1) + [hold_last_ms]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=durations, loop=0, optimize=False)
