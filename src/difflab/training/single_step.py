"""Training the single-step denoisers: denoiser (SPEC B1, noise at the fixed denoiser.sigma) and pure_noise (an input
that carries nothing of the digit), and the weights each leaves after snapshot_epoch and the last epoch."""

from difflab.config import layout
from difflab.config.schema import Params
from difflab.models.checkpoints import save_model
from difflab.training.denoiser import denoiser_loss, pure_noise_loss
from difflab.training.sections import finish, fit_section


def train_denoiser(params: Params, section: str) -> None:
    """Train a single-step denoiser, section denoiser (noise at the fixed denoiser.sigma) or pure_noise (an input
    that carries nothing of the digit), and save its weights after snapshot_epoch and the last epoch. Under
    `accelerate launch` only the main process writes."""
    p = getattr(params, section)
    if section == "denoiser":
        loss, settings, what = denoiser_loss(p.sigma), f"sigma={p.sigma}", f"sigma={p.sigma}"
    else:
        loss, settings, what = pure_noise_loss(), "pure noise", "input pure noise"
    result = fit_section(params, section, "none", loss, settings)
    if not result.main:
        return
    paths = layout.model_paths(section)
    meta = {"hidden": p.hidden, "conditioning": "none", **({"sigma": p.sigma} if section == "denoiser" else {})}
    save_model(paths.snapshot, result.snapshots[p.snapshot_epoch], {**meta, "epoch": p.snapshot_epoch})
    save_model(paths.final, result.state_dict, {**meta, "epoch": p.epochs})
    title = "Single-step denoiser" if section == "denoiser" else "Denoising pure noise"
    finish(section, p, result, f"{title} ({what}, D={p.hidden}, batch {p.batch_size}, lr {p.lr})")
