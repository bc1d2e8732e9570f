"""The judge: a small MNIST classifier used only as a measuring instrument (trained on the training split, never
on generated digits), and the metrics built on it.

- accuracy of its labels against the labels a generator was asked for;
- the Frechet distance between judge features (its penultimate layer, 128-d) of two sets of digits. This is FID's
  formula on an MNIST classifier instead of Inception (whose weights cannot be downloaded here): call it the
  "judge Frechet distance"; its numbers are not comparable with published FIDs.
"""

import torch
from torch import nn

FEATURES = 128


class Judge(nn.Module):
    """Inputs are standardised by the pixel mean and std of the training set it learned (MNIST's by default; a
    judge of another dataset is built with that dataset's: Judge.for_images), kept with its weights."""

    def __init__(self, mean: float = 0.1307, std: float = 0.3081):  # MNIST's train mean and std
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 x 14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7 x 7
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, 10)

    @classmethod
    def for_images(cls, images: torch.Tensor) -> "Judge":
        """A judge standardising by these (training) images' pixel mean and std."""
        return cls(images.mean().item(), images.std().item())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor, *_) -> torch.Tensor:
        return self.head(self.features(x))


def judge_loss(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, _generator) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x), labels)


@torch.no_grad()
def judge_outputs(judge: Judge, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels, features) for images in [0, 1] (clamped: generated digits may overshoot).

    Always in fp32, whatever precision the generator ran in: the measuring instrument stays the same."""
    judge.eval()
    labels, feats = [], []
    for i in range(0, len(images), batch_size):
        f = judge.features(images[i:i + batch_size].clamp(0, 1))
        feats.append(f.double().cpu())
        labels.append(judge.head(f).argmax(1).cpu())
    return torch.cat(labels), torch.cat(feats)


def sqrtm_psd(m: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((m + m.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2) of two (N, d) feature sets (float64)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"the Frechet distance needs at least 2 samples per set; got {len(a)} and {len(b)}")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = sqrtm_psd(cov_a)
    cross = sqrtm_psd(root_a @ cov_b @ root_a)
    return float((mu_a - mu_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * torch.trace(cross))


def load_judge(path, device: torch.device | str = "cpu") -> Judge:
    """The judge saved at `path`; DamagedFile (naming train_judge) where the file is not a judge's weights."""
    from pathlib import Path

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from difflab.errors import reading
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: judge not found (run the train_judge stage first)")
    judge = Judge()
    with reading(path, "judge's weights file", (SafetensorError, RuntimeError), "train_judge"):
        judge.load_state_dict(load_file(str(path)))
    return judge.to(device).eval()
