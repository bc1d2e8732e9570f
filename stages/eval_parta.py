"""Stage eval_parta: the part A algorithms on the MNIST model, judged over many seeds (eval.parta_seeds).

- anagrams: success = the image through every view judged as that view's digit (the course's: upright and upside
  down); with three views also the success of each pair of views; and how often each view alone is right;
- hybrids: success = the low-pass view judged as the far digit and the image as the near one;
- frequency bands (factorized items of kind bands): success = the widest blur judged as the low digit, the
  narrower one as the mid digit and the image itself as the high digit;
- inpainting: how often the completed test digit keeps its label, per mask;
- SDEdit faithfulness: how often the edited test digit keeps its label, per i_start (a curve).
Settings (stride, CFG scale, pairs, masks, i_start, prompts) are those of parta.mnist.
"""

import csv
import itertools
import json
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.params import SAMPLING, stage_params
from difflab.config.runtime import for_stage
from difflab.core.predictor import guided
from difflab.core.timesteps import timesteps
from difflab.data.mnist import load_mnist
from difflab.models.judge import judge_outputs, load_judge
from difflab.parta import algorithms as alg
from difflab.parta.experiments import band_blurs, sampler_of
from difflab.parta.images import make_mask
from difflab.parta.load import load_diffusion_model
from difflab.parta.views import ViewError, views_for
from difflab.reporting.figures import metric_curve, success_bars
from difflab.sampling.labels import class_index, one_hot_prompts

OUT = Path("reports/eval_parta")


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__, (*SAMPLING, "data", "eval", "parta"))
    cfg, rt, n = params["parta"]["mnist"], for_stage(params), params["eval"]["parta_seeds"]
    device = rt.device
    judge = load_judge(layout.model_paths("judge").final, device)
    model = load_diffusion_model("mnist", cfg["common"], rt)
    ts = timesteps(model.num_train_timesteps, stride=cfg["common"]["stride"])
    scale, sampler = cfg["common"]["guidance_scale"], sampler_of(cfg["common"])

    classes = model.classes  # those of the dataset it learned

    def c(*prompts: str) -> torch.Tensor:
        return one_hot_prompts(list(prompts), classes).to(device)

    def label(prompt: str) -> int:
        return class_index(prompt, classes)

    def labels(x: torch.Tensor) -> torch.Tensor:
        return judge_outputs(judge, x, params["sample_batch_size"])[0]

    def noise_and_generator() -> tuple[torch.Tensor, torch.Generator]:
        g = torch.Generator(device=device).manual_seed(params["seed"])
        return torch.randn((n, 1, 28, 28), generator=g, device=device), g

    anagrams = cfg["anagram"]["anagrams"]
    try:  # every view checked before any sampling
        views = [views_for(e["views"], model) for e in anagrams]
    except ViewError as e:
        raise SystemExit(f"eval_parta: error: {e}")
    colour = [item for item in cfg["factorized"]["items"] if item["kind"] != "bands"]
    if colour:
        raise SystemExit(f"eval_parta: error: factorized items {colour} need colour images; allowed on the MNIST "
                         "model: kind bands")
    metrics: dict = {"seeds": n}
    for e, vs in zip(anagrams, views):
        x_T, g = noise_and_generator()
        predictor = alg.anagram(model, [c(p) for p in e["prompts"]], c(""), scale, vs)
        x = alg.iterative_denoise(model, x_T, ts, 0, predictor, g, progress=f"anagram {'/'.join(e['views'])}",
                                  **sampler)
        right = {v.name: labels(v(x)) == label(p) for v, p in zip(vs, e["prompts"])}
        entry = {"success": torch.stack(list(right.values())).all(0).float().mean().item(),
                 **{f"ok_{name}": ok.float().mean().item() for name, ok in right.items()}}
        if len(vs) > 2:
            entry.update({f"success_{a}_{b}": (right[a] & right[b]).float().mean().item()
                          for a, b in itertools.combinations(right, 2)})
        metrics["anagram_" + "_".join(f"{v}-{p}" for v, p in zip(e["views"], e["prompts"]))] = entry
    h = cfg["hybrid"]
    for far, near in h["pairs"]:
        x_T, g = noise_and_generator()
        x = alg.iterative_denoise(model, x_T, ts, 0, alg.factorized(model, [c(far), c(near)], c(""), scale,
                                                                    alg.frequency_bands([(h["kernel_size"],
                                                                                          h["sigma"])])),
                                  g, progress=f"hybrid {far}/{near}", **sampler)
        far_ok = labels(alg.gaussian_blur(x, h["kernel_size"], h["sigma"])) == label(far)
        near_ok = labels(x) == label(near)
        metrics[f"hybrid_{far}_{near}"] = {"success": (far_ok & near_ok).float().mean().item(),
                                           "far_ok": far_ok.float().mean().item(),
                                           "near_ok": near_ok.float().mean().item()}
    blurs = band_blurs(cfg["factorized"])
    for item in cfg["factorized"]["items"]:
        x_T, g = noise_and_generator()
        x = alg.iterative_denoise(model, x_T, ts, 0, alg.factorized(model, [c(p) for p in item["prompts"]], c(""),
                                                                    scale, alg.frequency_bands(blurs)),
                                  g, progress=f"bands {'/'.join(item['prompts'])}", **sampler)
        right = {band: labels(seen) == label(p)
                 for band, seen, p in zip(("low", "mid", "high"), alg.band_views(x, blurs), item["prompts"])}
        metrics["bands_" + "_".join(item["prompts"])] = {
            "success": torch.stack(list(right.values())).all(0).float().mean().item(),
            **{f"{band}_ok": ok.float().mean().item() for band, ok in right.items()}}

    digits, truth = load_mnist(params["data"]["dir"], "test", n)
    digits, truth = digits.to(device), truth.to(device)
    inpaint = cfg["inpaint"]
    for k, spec in enumerate(inpaint["masks"]):
        _, g = noise_and_generator()
        mask = make_mask(spec, 28).to(device)
        out = alg.inpaint(model, digits, mask, ts, guided(model, c(inpaint["prompt"]), c(""), scale), g,
                          progress=f"inpainting, mask {k}", **sampler)
        metrics[f"inpaint_mask_{k}"] = {"label_kept": (labels(out) == truth.cpu()).float().mean().item(),
                                        "mask": str(spec)}
    rows = []
    sd = cfg["sdedit"]
    for i in sd["i_start"]:
        _, g = noise_and_generator()
        out = alg.sdedit(model, digits, ts, i, guided(model, c(sd["prompt"]), c(""), scale), g,
                         progress=f"SDEdit i_start {i}", **sampler)
        kept = (labels(out) == truth.cpu()).float().mean().item()
        metrics[f"sdedit_i_start_{i}"] = {"label_kept": kept}
        rows.append((i, ts[i], kept))

    OUT.mkdir(parents=True, exist_ok=True)
    success_bars({name.replace("_", " "): (m["success"], {k.removesuffix("_ok").removeprefix("ok_"): v
                                                          for k, v in m.items() if k.endswith("_ok") or
                                                          k.startswith("ok_")})
                  for name, m in metrics.items() if name.startswith(("anagram_", "hybrid_", "bands_"))},
                 OUT / "anagrams_hybrids.png", f"Anagrams, hybrids and frequency bands on the MNIST model ({n} seeds, "
                 f"CFG {scale})")
    with open(OUT / "sdedit_faithfulness.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["i_start", "t", "label_kept"])
        w.writerows([(i, t, f"{k:.6g}") for i, t, k in rows])
    metric_curve([i for i, _, _ in rows], {"label kept": [k for _, _, k in rows]}, OUT / "sdedit_faithfulness.png",
                 f"SDEdit faithfulness on {n} test digits (MNIST model, CFG {scale})",
                 "i_start (larger = less noise added)", "fraction judged as the original label")
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
