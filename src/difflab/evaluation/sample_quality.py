"""Sample quality of a generative MNIST model, measured with the judge (models/judge.py): the test set's judge features
and the floor (real training digits against the test set) once, then any number of seeded sample sets judged
against them. Used by the evaluation stages and by the comparisons by sampling steps (DDPM against flow matching,
DDPM against DDIM), which write their tables alike."""

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.runtime import Runtime
from difflab.core.noise import image_generators, randn
from difflab.data.mnist import load_mnist
from difflab.models.judge import Judge, frechet_distance, judge_outputs, load_judge
from difflab.models.unet import UNet
from difflab.reporting.figures import steps_curves
from difflab.sampling.generate import generate


@dataclass
class Reference:
    judge: Judge
    test_features: torch.Tensor
    floor: float  # judge Frechet distance of n real training digits to the test set


def reference(judge_path: Path, data_dir: str, n: int, runtime: Runtime, batch_size: int) -> Reference:
    judge = load_judge(judge_path, runtime.device)
    test_x, _ = load_mnist(data_dir, "test")
    train_x, _ = load_mnist(data_dir, "train", n)
    _, test_f = judge_outputs(judge, test_x.to(runtime.device), batch_size)
    _, train_f = judge_outputs(judge, train_x.to(runtime.device), batch_size)
    return Reference(judge, test_f, frechet_distance(train_f, test_f))


def run_reference(params, runtime: Runtime) -> Reference:
    """reference() as a run measures against: its judge, its data, eval.num_samples training digits for the floor,
    sample_batch_size images per judge call."""
    return reference(layout.model_paths("judge").final, params.data.dir, params.eval.num_samples, runtime,
                     params.sample_batch_size)


def each_digit(n: int) -> list[int]:
    """The digits 0-9 in turn for n class-conditioned samples: the class models are always judged on this list."""
    return [i % 10 for i in range(n)]


def judge_samples(ref: Reference, unet: UNet, meta: dict, n: int, seed: int, runtime: Runtime, batch_size: int,
                  digits: list[int] | None = None, guidance_scale: float = 1.0, num_steps: int | None = None,
                  progress: str | None = None, eta: float | None = None, variance: str = "fixed_small") -> dict:
    """Judge n digits generated from noise seeded with `seed`: their Frechet distance to the test set and, where
    digits were asked for, the fraction the judge labels as the digit asked for."""
    gens = image_generators(seed, n, runtime.device)  # digit i is the same whatever the batch size
    x_T = randn((n, 1, 28, 28), gens, runtime.device)
    x0 = generate(unet, meta, x_T, gens, digits, guidance_scale, progress=progress, runtime=runtime,
                  batch_size=batch_size, num_steps=num_steps, eta=eta, variance=variance)
    predicted, feats = judge_outputs(ref.judge, x0, batch_size)
    out = {"fd_to_test": frechet_distance(feats, ref.test_features)}
    if digits is not None:
        out["judge_accuracy"] = (predicted == torch.tensor(digits)).float().mean().item()
    return out


def write_steps_comparison(out_dir: Path, table: dict[str, dict[int, dict]], steps_list: list[int],
                           labels: dict[str, str], floor: float, figure: str, title: str, metrics: dict,
                           dashed: Sequence[str] = ()) -> dict:
    """What a comparison by sampling steps writes into out_dir, table[column][steps] being judge_samples' result
    (a column per sampler or model; a step count a column lacks stays empty): accuracy.csv and fd.csv for
    `dvc plots` (a row per step count), the figure (a line per column, named by labels[column]; the `dashed`
    columns dashed) and metrics.json: `metrics` with each column's results as steps_<k> (beside what
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
    metrics = {**metrics, **{c: {**metrics.get(c, {}), **{f"steps_{k}": v for k, v in rows.items()}}
                             for c, rows in table.items()}}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics
