"""What several test files need, in one place: the repository's root, a free port, headless Chromium with the
project's flags, dvc.yaml's stages as DVC resolves them, a stage script run as dvc runs it, a headline file, and
the tiny class-conditioned training run (its digits, its configuration, the run itself).

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


def resolved_stages(root: Path = ROOT) -> dict[str, dict]:
    """The stages of root's dvc.yaml as DVC resolves them, by the names DVC gives them (a foreach stage's entries as
    name@key), each in dvc.yaml's form (cmd, deps, params, outs, metrics): YAML anchors and merge keys applied, every
    ${...} interpolated (foreach's key and item, a stage's own vars, params.yaml's values such as parta.model)."""
    from dvc.dvcfile import load_file
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return load_file(repo, repo.fs.join(repo.root_dir, "dvc.yaml")).resolver.resolve()["stages"]


def param_keys(stage: dict) -> list[str]:
    """The params.yaml keys a resolved stage declares: its plain entries and those of its `params.yaml: [...]`
    entries (dvc.yaml names shared lists that way)."""
    keys = []
    for entry in stage.get("params", []):
        if isinstance(entry, str):
            keys.append(entry)
        else:
            assert set(entry) == {"params.yaml"}, f"params of another file: {entry}"
            keys += entry["params.yaml"]
    return keys


def run_stage(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """stages/<args[0]> run by this Python with the rest of `args`, in `cwd`, with os.environ and `env`; what it
    printed captured as text. The caller checks the return code."""
    return subprocess.run([sys.executable, str(ROOT / "stages" / args[0]), *args[1:]], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, **env))


def headline_file(**values) -> str:
    """reports/summary.json as the summary stage writes it: profile paper and every number None (not measured) but
    `values` (a number's interval as <key>_lo, <key>_hi and <key>_n)."""
    from difflab.config.metric_files import Summary
    from difflab.reporting.summary import HEADLINE

    return Summary.model_validate({**dict.fromkeys(HEADLINE), "profile": "paper", **values}).text()


def digit_tensors(n: int = 96, seed: int = 0):
    """conftest's synthetic digits as the training loop takes them: images (n, 1, 28, 28) in [0, 1], labels (n,)."""
    import torch
    from conftest import synthetic_digits

    images, labels = synthetic_digits(n, seed)
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels).long()


# How the unit tests train (TrainConfig's runtime knobs): on the CPU in fp32, eager, logging every 50 steps.
CPU_FP32 = dict(device="cpu", precision="fp32", channels_last="auto", compile="off", log_every=50)


def class_config(**changes):
    """The tiny class-conditioned run's TrainConfig (3 epochs of batch 32 on the CPU, a snapshot after epoch 2), with
    `changes`."""
    from difflab.training.loop import TrainConfig

    return TrainConfig(**{**dict(epochs=3, batch_size=32, lr=1e-3, seed=2718, **CPU_FP32, lr_final_factor=0.1,
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
