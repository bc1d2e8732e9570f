"""Figures saved as PNG: matplotlib on its Agg backend (no screen), and a saved file whose bytes depend on the pixels
alone (no timestamp, no Software field), so a seeded run writes the same bytes every time. Shared by the figures of
reporting/ and the loss figure a training stage draws (training/loss_curve.py), which imports nothing of reporting."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_PNG_META = {"Software": None}


def save_png(fig, path: Path) -> None:
    """`fig` written to `path` (its folder made), then closed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata=_PNG_META)
    plt.close(fig)
