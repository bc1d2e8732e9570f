"""The part A algorithms on the MNIST model, judged over many seeds (eval.parta_seeds) with the settings of
parta.mnist (stride, CFG scale, sampler, pairs, masks, i_start, prompts):

- anagrams: success = the image through every view judged as that view's digit; with three views also the success
  of each pair of views; and how often each view alone is right;
- hybrids: success = the low-pass view judged as the far digit and the image as the near one;
- frequency bands (factorized items of kind bands): success = the widest blur judged as the low digit, the narrower
  one as the mid digit and the image itself as the high digit;
- inpainting: how often the completed test digit keeps its label, per mask;
- SDEdit faithfulness: how often the edited test digit keeps its label, per i_start (a curve);
- the predicted update (the course's 1.4, "visualizing velocity"): per time of the forward process, the mean over
  test digits of the RMS error between the update the model predicts and the true one.

Every measurement starts from the same seeded noise (one image per seed) and a generator seeded alike.
"""

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.metric_files import (AnagramRates, BandRates, HybridRates, Inpainted, Kept, PartA, PartAFlow,
                                          UpdateError)
from difflab.config.runtime import Runtime
from difflab.config.schema import FlowExperiments, MnistExperiments, Params
from difflab.core.views import View, views_for
from difflab.data.mnist import load_mnist
from difflab.models.judge import Judge, judge_outputs, load_judge
from difflab.parta import algorithms as alg
from difflab.parta.engine import Engine
from difflab.parta.experiments import band_blurs, check_against_model
from difflab.parta.images import make_mask
from difflab.parta.load import load_engine
from difflab.reporting.figures import metric_curve, success_bars
from difflab.sampling.labels import class_index



@dataclass
class Bench:
    """What every measurement shares beside the engine (the MNIST model, its process, one-hot conditions, CFG
    scale, seed): parta.<model>'s settings, the judge, the number of seeds and the judge's batch size."""
    engine: Engine
    judge: Judge
    cfg: MnistExperiments | FlowExperiments  # params.yaml parta.mnist or parta.mnist_flow
    seeds: int
    batch_size: int

    def label(self, prompt: str) -> int:
        return class_index(prompt, self.engine.model.classes)

    @property
    def start_knob(self) -> str:
        """What SDEdit's start is called: i_start (a DDPM's index), t_start (a flow's time)."""
        return self.engine.model.objective.start_knob

    def judged(self, x: torch.Tensor) -> torch.Tensor:
        """The judge's label of each image."""
        return judge_outputs(self.judge, x, self.batch_size)[0]

    def noise(self) -> tuple[torch.Tensor, torch.Generator]:
        """The seeded starting noise (one image per seed) and the generator that drew it, for the sampler's noise."""
        g = self.engine.generator()
        return self.engine.noise(self.seeds, g), g


def load_bench(params: Params, runtime: Runtime, name: str = "mnist") -> Bench:
    """The judge and the MNIST model of parta.<name>.common (mnist: the class DDPM; mnist_flow: the class flow
    model), with its process and CFG scale."""
    cfg = getattr(params.parta, name)
    judge = load_judge(layout.model_paths("judge").final, runtime.device)
    return Bench(load_engine(name, cfg, runtime, seed=params.seed), judge, cfg, params.eval.parta_seeds,
                 params.sample_batch_size)


def checked_settings(bench: Bench) -> list[list[View]]:
    """The views of every anagram, the settings checked against the model (parta/experiments.check_against_model:
    the factorized items must be frequency bands on the MNIST model, whose images have no colour) before any
    sampling. Raises ViewError or ParamError."""
    check_against_model(bench.cfg, bench.engine.model)
    return [views_for(e.views, bench.engine.model) for e in bench.cfg.anagram.anagrams]


def _rate(ok: torch.Tensor) -> float:
    return ok.float().mean().item()


def anagrams(bench: Bench, views: list[list[View]]) -> dict[str, AnagramRates]:
    """Per anagram (<view>-<prompt>_...): success (every view judged as its digit), each view alone, and with three
    views each pair (<a>_<b>)."""
    engine, metrics = bench.engine, {}
    for e, vs in zip(bench.cfg.anagram.anagrams, views):
        x_T, g = bench.noise()
        x = engine.denoise(x_T, 0, engine.anagram(e.prompts, vs), g, progress=f"anagram {'/'.join(e.views)}")
        right = {v.name: bench.judged(v(x)) == bench.label(p) for v, p in zip(vs, e.prompts)}
        pairs = itertools.combinations(right, 2) if len(vs) > 2 else ()
        metrics["_".join(f"{v}-{p}" for v, p in zip(e.views, e.prompts))] = AnagramRates(
            success=_rate(torch.stack(list(right.values())).all(0)), ok={name: _rate(ok) for name, ok in right.items()},
            pairs={f"{a}_{b}": _rate(right[a] & right[b]) for a, b in pairs})
    return metrics


def hybrids(bench: Bench) -> dict[str, HybridRates]:
    """Per (far, near) pair (<far>_<near>): success (the blurred image judged as far and the image as near), far_ok,
    near_ok."""
    engine, h, metrics = bench.engine, bench.cfg.hybrid, {}
    for far, near in h.pairs:
        x_T, g = bench.noise()
        predictor = engine.factorized([[far], [near]], alg.frequency_bands([(h.kernel_size, h.sigma)]))
        x = engine.denoise(x_T, 0, predictor, g, progress=f"hybrid {far}/{near}")
        far_ok = bench.judged(alg.gaussian_blur(x, h.kernel_size, h.sigma)) == bench.label(far)
        near_ok = bench.judged(x) == bench.label(near)
        metrics[f"{far}_{near}"] = HybridRates(success=_rate(far_ok & near_ok), far_ok=_rate(far_ok),
                                               near_ok=_rate(near_ok))
    return metrics


def bands(bench: Bench) -> dict[str, BandRates]:
    """Per factorized item (its prompts, _-joined): success (the low, mid and high bands each judged as their digit)
    and <band>_ok."""
    engine, metrics = bench.engine, {}
    blurs = band_blurs(bench.cfg.factorized)
    for item in bench.cfg.factorized.items:
        x_T, g = bench.noise()
        predictor = engine.factorized([[p] for p in item.prompts], alg.frequency_bands(blurs))
        x = engine.denoise(x_T, 0, predictor, g, progress=f"bands {'/'.join(item.prompts)}")
        right = {band: bench.judged(seen) == bench.label(p)
                 for band, seen, p in zip(("low", "mid", "high"), alg.band_views(x, blurs), item.prompts)}
        metrics["_".join(item.prompts)] = BandRates(success=_rate(torch.stack(list(right.values())).all(0)),
                                                    **{f"{band}_ok": _rate(ok) for band, ok in right.items()})
    return metrics


def inpainting(bench: Bench, digits: torch.Tensor, truth: torch.Tensor) -> dict[int, Inpainted]:
    """Per mask of parta.mnist.inpaint, by its index: how often the completed test digit keeps its label."""
    engine, inpaint, metrics = bench.engine, bench.cfg.inpaint, {}
    for k, spec in enumerate(inpaint.masks):
        _, g = bench.noise()
        mask = make_mask(spec, 28).to(engine.device)
        out = engine.inpaint(digits, mask, engine.guided(inpaint.prompt), g, progress=f"inpainting, mask {k}")
        metrics[k] = Inpainted(label_kept=_rate(bench.judged(out) == truth.cpu()), mask=str(spec))
    return metrics


def sdedit_faithfulness(bench: Bench, digits: torch.Tensor, truth: torch.Tensor) -> list[tuple[float, float, float]]:
    """(start, its time, how often the edited test digit keeps its label) for each start of parta.<model>.sdedit:
    a DDPM's i_start and its timestep, a flow's t_start (twice)."""
    engine, sd, rows = bench.engine, bench.cfg.sdedit, []
    for start in sd.starts:
        grid, i = engine.walk(start)
        _, g = bench.noise()
        out = engine.sdedit(digits, i, engine.guided(sd.prompt), g, progress=f"SDEdit from {start}", grid=grid)
        rows.append((start, grid[i], _rate(bench.judged(out) == truth.cpu())))
    return rows


def update_errors(bench: Bench, digits: torch.Tensor) -> dict[float, UpdateError]:
    """Per time t of parta.<model>.forward: the mean over the test digits of the RMS error (per image, over its
    pixels) between the update to the clean image the model predicts from x_t (prompt parta.<model>.velocity) and
    the true one, x0 - x_t."""
    engine, cfg, metrics = bench.engine, bench.cfg, {}
    _, g = bench.noise()
    predictor = engine.conditional(cfg.velocity.prompt)
    for t in cfg.forward.times:
        x_t = engine.noised(digits, t, g)
        error = engine.update(x_t, t, predictor) - (digits - x_t)
        metrics[t] = UpdateError(rms_error=error.pow(2).mean((1, 2, 3)).sqrt().mean().item())
    return metrics


@torch.no_grad()
def measure(bench: Bench, views: list[list[View]], data_dir: str) -> tuple[PartA, list[tuple[int, int, float]]]:
    """Every measurement in turn: the metrics (anagrams, hybrids, bands, then inpainting, SDEdit and the predicted
    update on the first `seeds` test digits; PartAFlow on a flow model) and SDEdit's curve as
    sdedit_faithfulness' rows."""
    found = {"anagram": anagrams(bench, views), "hybrid": hybrids(bench), "bands": bands(bench)}
    digits, truth = load_mnist(data_dir, "test", bench.seeds)
    digits, truth = digits.to(bench.engine.device), truth.to(bench.engine.device)
    found["inpaint"] = inpainting(bench, digits, truth)
    rows = sdedit_faithfulness(bench, digits, truth)
    found["velocity"] = update_errors(bench, digits)
    file = {"i_start": PartA, "t_start": PartAFlow}[bench.start_knob]
    return file(seeds=bench.seeds, sdedit={s: Kept(label_kept=kept) for s, _, kept in rows}, **found), rows


def write_figures(out: Path, metrics: PartA, rows: list[tuple[float, float, float]], seeds: int, scale: float,
                  start: str = "i_start", model: str = "MNIST model") -> None:
    """anagrams_hybrids.png (each item's success beside how often each of its parts is right),
    sdedit_faithfulness.csv (for `dvc plots`) and sdedit_faithfulness.png; `start` names SDEdit's start knob
    (Bench.start_knob) and `model` the model in the titles."""
    out.mkdir(parents=True, exist_ok=True)
    items = {**{f"anagram {k}": (m.success, m.ok) for k, m in metrics.anagram.items()},
             **{f"hybrid {k}": (m.success, {"far": m.far_ok, "near": m.near_ok}) for k, m in metrics.hybrid.items()},
             **{f"bands {k}": (m.success, {"low": m.low_ok, "mid": m.mid_ok, "high": m.high_ok})
                for k, m in metrics.bands.items()}}
    success_bars({name.replace("_", " "): rates for name, rates in items.items()}, out / "anagrams_hybrids.png",
                 f"Anagrams, hybrids and frequency bands on the {model} ({seeds} seeds, CFG {scale})")
    with open(out / "sdedit_faithfulness.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([start, "t", "label_kept"])
        w.writerows([(i, t, f"{k:.6g}") for i, t, k in rows])
    metric_curve([i for i, _, _ in rows], {"label kept": [k for _, _, k in rows]}, out / "sdedit_faithfulness.png",
                 f"SDEdit faithfulness on {seeds} test digits ({model}, CFG {scale})",
                 f"{start} (larger = less noise added)", "fraction judged as the original label")
