"""Where each model's files live; dvc.yaml declares the same paths."""

from dataclasses import dataclass
from pathlib import Path

# by objective: the film of the last model sampling, beside its reports
GIFS = {"ddpm": "reverse.gif", "flow": "trajectory.gif"}


@dataclass(frozen=True)
class ModelPaths:
    final: Path  # weights after the last epoch
    snapshot: Path  # weights after <model>.snapshot_epoch
    checkpoint: Path  # training state for resuming (not cached by DVC)
    log_dir: Path  # DVCLive: per-step loss and summary metrics
    loss_figure: Path
    reports: Path  # the model's figures and metrics

    def at_epoch(self, epoch: int) -> Path:
        """Weights after one of <model>.snapshot_epochs."""
        return self.final.with_name(f"epoch{epoch}.safetensors")


def model_paths(name: str) -> ModelPaths:
    reports = Path("reports") / name
    return ModelPaths(final=Path("models") / name / "final.safetensors",
                      snapshot=Path("models") / name / "snapshot.safetensors",
                      checkpoint=Path("checkpoints") / name / "last.pt",
                      log_dir=reports / "train", loss_figure=reports / "loss.png", reports=reports)


def saved_weights(name: str, section) -> list[tuple[str, int, Path]]:
    """The weights a training stage saves, as (label, epoch, path), earliest first: one snapshot.safetensors for a
    section with snapshot_epoch, epoch<N>.safetensors for each of snapshot_epochs, then final.safetensors.
    Sampling stages name their figures after the labels (samples_snapshot.png, samples_epoch1.png, ...)."""
    paths = model_paths(name)
    if "snapshot_epochs" in type(section).model_fields:
        early = [(f"epoch{e}", e, paths.at_epoch(e)) for e in section.snapshot_epochs]
    else:
        early = [("snapshot", section.snapshot_epoch, paths.snapshot)]
    return [*early, ("final", section.epochs, paths.final)]
