"""What several test files need, in one place: the repository's root, a free port, headless Chromium with the
project's flags, dvc.yaml's stages with foreach stages expanded, a stage script run as dvc runs it, and the tiny
class-conditioned training run (its digits, its configuration, the run itself).

Plain functions and constants (fixtures belong in conftest.py). torch and difflab's training code are imported
inside the functions that use them, so a test file that only wants ROOT does not pay for them."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(playwright):
    """A headless Chromium (Debian's, found on PATH) launched by a sync_playwright() `playwright` with the project's
    flags; the caller closes it."""
    chromium = shutil.which("chromium")
    assert chromium, "the page tests need Debian's chromium (make test installs it)"
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)


def _substituted(node, key: str, item: str):
    """node with ${key} and ${item} replaced in every string of it, a mapping's keys included."""
    if isinstance(node, str):
        return node.replace("${key}", key).replace("${item}", item)
    if isinstance(node, list):
        return [_substituted(n, key, item) for n in node]
    if isinstance(node, dict):
        return {_substituted(k, key, item): _substituted(v, key, item) for k, v in node.items()}
    return node


def expanded_stages(dvc_yaml: dict) -> dict[str, dict]:
    """The stages of a parsed dvc.yaml by the names DVC gives them: a foreach stage's `do` once per entry of its list
    (${item}, named name@item) or mapping (${key}: ${item}, named name@key), with ${key} and ${item} replaced in every
    string of it (a list's entry is both key and item, as str()); any other stage as it stands. Other ${...} (params
    DVC interpolates, ${parta.model}) are left for the caller."""
    out = {}
    for name, stage in dvc_yaml["stages"].items():
        if "foreach" in stage:
            each = stage["foreach"]
            for key, item in each.items() if isinstance(each, dict) else zip(each, each):
                out[f"{name}@{key}"] = _substituted(stage["do"], str(key), str(item))
        else:
            out[name] = stage
    return out


def run_stage(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """stages/<args[0]> run by this Python with the rest of `args`, in `cwd`, with os.environ and `env`; what it
    printed captured as text. The caller checks the return code."""
    return subprocess.run([sys.executable, str(ROOT / "stages" / args[0]), *args[1:]], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, **env))


def digit_tensors(n: int = 96, seed: int = 0):
    """conftest's synthetic digits as the training loop takes them: images (n, 1, 28, 28) in [0, 1], labels (n,)."""
    import torch
    from conftest import synthetic_digits

    images, labels = synthetic_digits(n, seed)
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels).long()


def class_config(**changes):
    """The tiny class-conditioned run's TrainConfig (3 epochs of batch 32 on the CPU, a snapshot after epoch 2), with
    `changes`."""
    from difflab.training.loop import TrainConfig

    return TrainConfig(**{**dict(epochs=3, batch_size=32, lr=1e-3, seed=2718, device="cpu", lr_final_factor=0.1,
                                 snapshot_epochs=(2,)), **changes})


def train(tmp: Path, digits, cfg=None, on_epoch_end=None, hidden: int = 4):
    """fit() of a fresh class-conditioned UNet(hidden) on `digits` (a 20-step linear schedule, p_uncond 0.1), seeded
    with cfg.seed, checkpoint and DVCLive log under `tmp`; cfg is class_config() unless given."""
    import torch

    from difflab.core.ddpm import ddpm_loss, linear_alphas_cumprod
    from difflab.models.unet import UNet
    from difflab.training.loop import fit

    cfg = class_config() if cfg is None else cfg
    torch.manual_seed(cfg.seed)
    loss = ddpm_loss(linear_alphas_cumprod(20, 1e-4, 0.02), "class", p_uncond=0.1)
    return fit(UNet(hidden, "class"), loss, *digits, cfg, tmp / "ckpt.pt", tmp / "log", on_epoch_end=on_epoch_end)
