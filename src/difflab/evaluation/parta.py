"""The part A algorithms on the MNIST model, judged over many seeds (eval.parta_seeds) with the settings of
parta.mnist (stride, CFG scale, sampler, pairs, masks, i_start, prompts):

- anagrams: success = the image through every view judged as that view's digit; with three views also the success
  of each pair of views; and how often each view alone is right;
- hybrids: success = the low-pass view judged as the far digit and the image as the near one;
- frequency bands (factorized items of kind bands): success = the widest blur judged as the low digit, the narrower
  one as the mid digit and the image itself as the high digit;
- inpainting: how often the completed test digit keeps its label, per mask;
- SDEdit faithfulness: how often the edited test digit keeps its label, per i_start (a curve).

Every measurement starts from the same seeded noise (one image per seed) and a generator seeded alike.
"""

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.runtime import Runtime
from difflab.config.schema import MnistExperiments, Params
from difflab.core.predictor import guided
from difflab.core.timesteps import timesteps
from difflab.data.mnist import load_mnist
from difflab.errors import ParamError
from difflab.models.judge import Judge, judge_outputs, load_judge
from difflab.parta import algorithms as alg
from difflab.parta.experiments import band_blurs, sampler_of
from difflab.parta.images import make_mask
from difflab.parta.load import load_diffusion_model
from difflab.parta.model import DiffusionModel
from difflab.core.views import View, views_for
from difflab.reporting.figures import metric_curve, success_bars
from difflab.sampling.labels import class_index, one_hot_prompts


@dataclass
class Bench:
    """What every measurement shares: the MNIST model, its timesteps and sampler, parta.mnist's settings, the judge,
    and the number of seeds."""
    model: DiffusionModel
    judge: Judge
    cfg: MnistExperiments  # params.yaml parta.mnist
    ts: list[int]
    scale: float
    sampler: dict
    seeds: int
    seed: int
    batch_size: int
    device: torch.device

    def cond(self, *prompts: str) -> torch.Tensor:
        """The prompts' one-hot conditions over the classes of the dataset the model learned."""
        return one_hot_prompts(list(prompts), self.model.classes).to(self.device)

    def label(self, prompt: str) -> int:
        return class_index(prompt, self.model.classes)

    def judged(self, x: torch.Tensor) -> torch.Tensor:
        """The judge's label of each image."""
        return judge_outputs(self.judge, x, self.batch_size)[0]

    def noise(self) -> tuple[torch.Tensor, torch.Generator]:
        """The seeded starting noise (one image per seed) and the generator that drew it, for the sampler's noise."""
        g = torch.Generator(device=self.device).manual_seed(self.seed)
        return torch.randn((self.seeds, 1, 28, 28), generator=g, device=self.device), g


def load_bench(params: Params, runtime: Runtime) -> Bench:
    """The judge and the MNIST model of parta.mnist.common, with its strided timesteps, CFG scale and sampler."""
    cfg = params.parta.mnist
    judge = load_judge(layout.model_paths("judge").final, runtime.device)
    model = load_diffusion_model("mnist", cfg.common, runtime)
    ts = timesteps(model.num_train_timesteps, stride=cfg.common.stride)
    return Bench(model, judge, cfg, ts, cfg.common.guidance_scale, sampler_of(cfg.common),
                 params.eval.parta_seeds, params.seed, params.sample_batch_size, runtime.device)


def checked_settings(bench: Bench) -> list[list[View]]:
    """The views of every anagram, checked against the model, and the factorized items checked to be frequency
    bands (the MNIST model's images have no colour), before any sampling. Raises ViewError or ParamError."""
    views = [views_for(e.views, bench.model) for e in bench.cfg.anagram.anagrams]
    colour = [item.model_dump() for item in bench.cfg.factorized.items if item.kind != "bands"]
    if colour:
        raise ParamError(f"factorized items {colour} need colour images; allowed on the MNIST model: kind bands")
    return views


def _rate(ok: torch.Tensor) -> float:
    return ok.float().mean().item()


def anagrams(bench: Bench, views: list[list[View]]) -> dict:
    """Per anagram: success (every view judged as its digit), ok_<view> (that view alone), and with three views
    success_<a>_<b> for each pair."""
    c, metrics = bench.cond, {}
    for e, vs in zip(bench.cfg.anagram.anagrams, views):
        x_T, g = bench.noise()
        predictor = alg.anagram(bench.model, [c(p) for p in e.prompts], c(""), bench.scale, vs)
        x = alg.iterative_denoise(bench.model, x_T, bench.ts, 0, predictor, g,
                                  progress=f"anagram {'/'.join(e.views)}", **bench.sampler)
        right = {v.name: bench.judged(v(x)) == bench.label(p) for v, p in zip(vs, e.prompts)}
        entry = {"success": _rate(torch.stack(list(right.values())).all(0)),
                 **{f"ok_{name}": _rate(ok) for name, ok in right.items()}}
        if len(vs) > 2:
            entry.update({f"success_{a}_{b}": _rate(right[a] & right[b]) for a, b in itertools.combinations(right, 2)})
        metrics["anagram_" + "_".join(f"{v}-{p}" for v, p in zip(e.views, e.prompts))] = entry
    return metrics


def hybrids(bench: Bench) -> dict:
    """Per (far, near) pair: success (the blurred image judged as far and the image as near), far_ok, near_ok."""
    c, h, metrics = bench.cond, bench.cfg.hybrid, {}
    for far, near in h.pairs:
        x_T, g = bench.noise()
        predictor = alg.factorized(bench.model, [c(far), c(near)], c(""), bench.scale,
                                   alg.frequency_bands([(h.kernel_size, h.sigma)]))
        x = alg.iterative_denoise(bench.model, x_T, bench.ts, 0, predictor, g, progress=f"hybrid {far}/{near}",
                                  **bench.sampler)
        far_ok = bench.judged(alg.gaussian_blur(x, h.kernel_size, h.sigma)) == bench.label(far)
        near_ok = bench.judged(x) == bench.label(near)
        metrics[f"hybrid_{far}_{near}"] = {"success": _rate(far_ok & near_ok), "far_ok": _rate(far_ok),
                                           "near_ok": _rate(near_ok)}
    return metrics


def bands(bench: Bench) -> dict:
    """Per factorized item: success (the low, mid and high bands each judged as their digit) and <band>_ok."""
    c, metrics = bench.cond, {}
    blurs = band_blurs(bench.cfg.factorized)
    for item in bench.cfg.factorized.items:
        x_T, g = bench.noise()
        predictor = alg.factorized(bench.model, [c(p) for p in item.prompts], c(""), bench.scale,
                                   alg.frequency_bands(blurs))
        x = alg.iterative_denoise(bench.model, x_T, bench.ts, 0, predictor, g,
                                  progress=f"bands {'/'.join(item.prompts)}", **bench.sampler)
        right = {band: bench.judged(seen) == bench.label(p)
                 for band, seen, p in zip(("low", "mid", "high"), alg.band_views(x, blurs), item.prompts)}
        metrics["bands_" + "_".join(item.prompts)] = {
            "success": _rate(torch.stack(list(right.values())).all(0)),
            **{f"{band}_ok": _rate(ok) for band, ok in right.items()}}
    return metrics


def inpainting(bench: Bench, digits: torch.Tensor, truth: torch.Tensor) -> dict:
    """Per mask of parta.mnist.inpaint: how often the completed test digit keeps its label (label_kept)."""
    inpaint, metrics = bench.cfg.inpaint, {}
    for k, spec in enumerate(inpaint.masks):
        _, g = bench.noise()
        mask = make_mask(spec, 28).to(bench.device)
        out = alg.inpaint(bench.model, digits, mask, bench.ts,
                          guided(bench.model, bench.cond(inpaint.prompt), bench.cond(""), bench.scale), g,
                          progress=f"inpainting, mask {k}", **bench.sampler)
        metrics[f"inpaint_mask_{k}"] = {"label_kept": _rate(bench.judged(out) == truth.cpu()), "mask": str(spec)}
    return metrics


def sdedit_faithfulness(bench: Bench, digits: torch.Tensor, truth: torch.Tensor) -> list[tuple[int, int, float]]:
    """(i_start, its timestep, how often the edited test digit keeps its label) for each i_start of
    parta.mnist.sdedit."""
    sd, rows = bench.cfg.sdedit, []
    for i in sd.i_start:
        _, g = bench.noise()
        out = alg.sdedit(bench.model, digits, bench.ts, i,
                         guided(bench.model, bench.cond(sd.prompt), bench.cond(""), bench.scale), g,
                         progress=f"SDEdit i_start {i}", **bench.sampler)
        rows.append((i, bench.ts[i], _rate(bench.judged(out) == truth.cpu())))
    return rows


@torch.no_grad()
def measure(bench: Bench, views: list[list[View]], data_dir: str) -> tuple[dict, list[tuple[int, int, float]]]:
    """Every measurement in turn: the metrics (seeds, then anagrams, hybrids, bands, inpainting and SDEdit, the
    last two on the first `seeds` test digits) and SDEdit's curve as sdedit_faithfulness' rows."""
    metrics = {"seeds": bench.seeds, **anagrams(bench, views), **hybrids(bench), **bands(bench)}
    digits, truth = load_mnist(data_dir, "test", bench.seeds)
    digits, truth = digits.to(bench.device), truth.to(bench.device)
    metrics.update(inpainting(bench, digits, truth))
    rows = sdedit_faithfulness(bench, digits, truth)
    metrics.update({f"sdedit_i_start_{i}": {"label_kept": kept} for i, _, kept in rows})
    return metrics, rows


def write_figures(out: Path, metrics: dict, rows: list[tuple[int, int, float]], seeds: int, scale: float) -> None:
    """anagrams_hybrids.png (each item's success beside how often each of its parts is right),
    sdedit_faithfulness.csv (for `dvc plots`) and sdedit_faithfulness.png."""
    out.mkdir(parents=True, exist_ok=True)
    success_bars({name.replace("_", " "): (m["success"], {k.removesuffix("_ok").removeprefix("ok_"): v
                                                          for k, v in m.items() if k.endswith("_ok") or
                                                          k.startswith("ok_")})
                  for name, m in metrics.items() if name.startswith(("anagram_", "hybrid_", "bands_"))},
                 out / "anagrams_hybrids.png", f"Anagrams, hybrids and frequency bands on the MNIST model ({seeds} "
                 f"seeds, CFG {scale})")
    with open(out / "sdedit_faithfulness.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["i_start", "t", "label_kept"])
        w.writerows([(i, t, f"{k:.6g}") for i, t, k in rows])
    metric_curve([i for i, _, _ in rows], {"label kept": [k for _, _, k in rows]}, out / "sdedit_faithfulness.png",
                 f"SDEdit faithfulness on {seeds} test digits (MNIST model, CFG {scale})",
                 "i_start (larger = less noise added)", "fraction judged as the original label")
