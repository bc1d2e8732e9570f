"""Where each model's files live; dvc.yaml declares the same paths."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelPaths:
    final: Path  # weights after the last epoch
    snapshot: Path  # weights after <model>.snapshot_epoch
    checkpoint: Path  # training state for resuming (not cached by DVC)
    log_dir: Path  # DVCLive: per-step loss and summary metrics
    loss_figure: Path
    reports: Path  # the model's figures and metrics


def model_paths(name: str) -> ModelPaths:
    reports = Path("reports") / name
    return ModelPaths(final=Path("models") / name / "final.safetensors",
                      snapshot=Path("models") / name / "snapshot.safetensors",
                      checkpoint=Path("checkpoints") / name / "last.pt",
                      log_dir=reports / "train", loss_figure=reports / "loss.png", reports=reports)
