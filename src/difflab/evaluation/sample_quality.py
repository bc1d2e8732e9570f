"""Sample quality of a generative MNIST model, measured with the judge (models/judge.py): the test set's judge features
and the floor (real training digits against the test set) once, then any number of seeded sample sets judged
against them. Used by the evaluation stages and by the comparisons by sampling steps (DDPM against flow matching,
DDPM against DDIM), which write their tables alike."""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.metric_files import Objectives, Samplers
from difflab.config.runtime import Runtime
from difflab.core.noise import image_generators, randn
from difflab.data.mnist import load_mnist
from difflab.intervals import Z
from difflab.models.judge import Judge, frechet_distance, judge_outputs, load_judge, sqrtm_psd
from difflab.models.unet import UNet
from difflab.reporting.figures import steps_curves
from difflab.sampling.generate import generate


@dataclass
class Reference:
    judge: Judge
    test_features: torch.Tensor
    floor: float  # judge Frechet distance of n real training digits to the test set
    floor_interval: tuple[float, float] | None = None  # its 95 % interval (frechet_interval), where one was asked for


def reference(judge_path: Path, data_dir: str, n: int, runtime: Runtime, batch_size: int, resamples: int = 0,
              seed: int = 0) -> Reference:
    """The judge, the test set's features and the floor of n training digits (with its interval from `resamples`
    bootstrap draws seeded with `seed`, where resamples > 0)."""
    judge = load_judge(judge_path, runtime.device)
    test_x, _ = load_mnist(data_dir, "test")
    train_x, _ = load_mnist(data_dir, "train", n)
    _, test_f = judge_outputs(judge, test_x.to(runtime.device), batch_size)
    _, train_f = judge_outputs(judge, train_x.to(runtime.device), batch_size)
    interval = frechet_interval(train_f, test_f, resamples, seed) if resamples else None
    return Reference(judge, test_f, frechet_distance(train_f, test_f), interval)


def run_reference(params, runtime: Runtime, intervals: bool = False) -> Reference:
    """reference() as a run measures against: its judge, its data, eval.num_samples training digits for the floor,
    sample_batch_size images per judge call; with intervals, the floor's from eval.bootstrap_resamples draws."""
    return reference(layout.model_paths("judge").final, params.data.dir, params.eval.num_samples, runtime,
                     params.sample_batch_size, params.eval.bootstrap_resamples if intervals else 0, params.seed)


def bootstrap_distances(a: torch.Tensor, b: torch.Tensor, resamples: int, seed: int,
                        chunk: int = 50) -> torch.Tensor:
    """frechet_distance(a*, b) for `resamples` draws a* of len(a) of a's rows with replacement (their indices drawn
    by a CPU generator seeded with `seed`, `chunk` draws at a time), b fixed. Batched: the cross term
    tr (S_a^1/2 S_b S_a^1/2)^1/2 is the sum of the square roots of the eigenvalues of S_b^1/2 S_a S_b^1/2."""
    if resamples < 2:
        raise ValueError(f"a bootstrap needs at least 2 resamples; got {resamples}")
    a, b = a.double().cpu(), b.double().cpu()
    n = len(a)
    mu_b, cov_b = b.mean(0), torch.cov(b.T)
    root_b = sqrtm_psd(cov_b)
    g = torch.Generator().manual_seed(seed)
    draws = []
    for start in range(0, resamples, chunk):
        x = a[torch.randint(0, n, (min(chunk, resamples - start), n), generator=g)]  # (k, n, d)
        mu = x.mean(1)
        centred = x - mu[:, None]
        cov = centred.transpose(1, 2) @ centred / (n - 1)
        cross = torch.linalg.eigvalsh(root_b @ cov @ root_b).clamp(min=0).sqrt().sum(1)
        draws.append((mu - mu_b).pow(2).sum(1) + cov.diagonal(dim1=1, dim2=2).sum(1) + torch.trace(cov_b) - 2 * cross)
    return torch.cat(draws)


def frechet_interval(a: torch.Tensor, b: torch.Tensor, resamples: int, seed: int) -> tuple[float, float]:
    """A 95 % interval for the Frechet distance of the n samples `a` to the fixed reference `b` (the test set):
    frechet_distance(a, b) +- Z standard deviations of bootstrap_distances (b is never resampled: every run is
    measured against the same test set).

    What it covers: the distance that n samples of this model score on average (the value moves round it with the
    sample noise, which the bootstrap measures); not the distance of infinitely many samples, which is lower (at
    small n the estimator is biased upward), so compare runs at equal n (docs/results.md, "Error bars"). A distance
    is never negative: where the spread is wider than the value, the interval starts at 0."""
    sd = bootstrap_distances(a, b, resamples, seed).std().item()
    value = frechet_distance(a, b)
    return max(0.0, value - Z * sd), value + Z * sd


def each_digit(n: int) -> list[int]:
    """The digits 0-9 in turn for n class-conditioned samples: the class models are always judged on this list."""
    return [i % 10 for i in range(n)]


def judge_samples(ref: Reference, unet: UNet, meta: dict, n: int, seed: int, runtime: Runtime, batch_size: int,
                  digits: list[int] | None = None, guidance_scale: float = 1.0, num_steps: int | None = None,
                  progress: str | None = None, eta: float | None = None, variance: str = "fixed_small",
                  resamples: int = 0) -> dict:
    """Judge n digits generated from noise seeded with `seed`: their Frechet distance to the test set and, where
    digits were asked for, the fraction the judge labels as the digit asked for. With resamples > 0, the distance's
    95 % interval too (fd_to_test_lo, fd_to_test_hi: frechet_interval, seeded with `seed`)."""
    gens = image_generators(seed, n, runtime.device)  # digit i is the same whatever the batch size
    x_T = randn((n, 1, 28, 28), gens, runtime.device)
    x0 = generate(unet, meta, x_T, gens, digits, guidance_scale, progress=progress, runtime=runtime,
                  batch_size=batch_size, num_steps=num_steps, eta=eta, variance=variance)
    predicted, feats = judge_outputs(ref.judge, x0, batch_size)
    out = {"fd_to_test": frechet_distance(feats, ref.test_features)}
    if resamples:
        out["fd_to_test_lo"], out["fd_to_test_hi"] = frechet_interval(feats, ref.test_features, resamples, seed)
    if digits is not None:
        out["judge_accuracy"] = (predicted == torch.tensor(digits)).float().mean().item()
    return out


def write_steps_comparison(out_dir: Path, table: dict[str, dict[int, dict]], steps_list: list[int],
                           labels: dict[str, str], floor: float, figure: str, title: str, metrics: dict,
                           file: type[Objectives | Samplers], dashed: Sequence[str] = ()) -> Objectives | Samplers:
    """What a comparison by sampling steps writes into out_dir, table[column][steps] being judge_samples' result
    (a column per sampler or model; a step count a column lacks stays empty): accuracy.csv and fd.csv for
    `dvc plots` (a row per step count), the figure (a line per column, named by labels[column]; the `dashed`
    columns dashed) and metrics.json, the `file` of `metrics` with each column's results as its steps (beside what
    metrics[column] holds). Returns what metrics.json holds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, key in (("accuracy.csv", "judge_accuracy"), ("fd.csv", "fd_to_test")):
        with open(out_dir / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["num_steps", *table])
            for k in steps_list:
                w.writerow([k, *(f"{table[c][k][key]:.6g}" if k in table[c] else "" for c in table)])
    curves = {labels[c]: {k: (v["judge_accuracy"], v["fd_to_test"]) for k, v in rows.items()}
              for c, rows in table.items()}
    steps_curves(curves, floor, out_dir / figure, title, dashed=[labels[c] for c in dashed])
    metrics = file(**{**metrics, **{c: {**metrics.get(c, {}), "steps": rows} for c, rows in table.items()}})
    metrics.write(out_dir / "metrics.json")
    return metrics
