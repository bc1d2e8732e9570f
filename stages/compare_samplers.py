"""Stage compare_samplers: the class-conditioned DDPM sampled by the DDPM posterior step, once per noise variance in
samplers.variances (fixed_small: the posterior's; fixed_large: sqrt(beta) of the whole stride, which leaves grain),
and by DDIM's step (Song et al. 2021, eta = samplers.ddim_eta; 0 = deterministic) over the same strided timesteps,
at every count in samplers.num_steps, from the same seeded noise and with the same CFG scale
(ddpm_class.guidance_scale). The judge scores each set of eval.num_samples digits (0-9 in turn): accuracy on the
digits asked for and Frechet distance to the test set. What fewer model calls cost each sampler: accuracy.csv and
fd.csv (one column per sampler, for `dvc plots`), metrics.json and a figure.
"""

import json
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.params import SAMPLING, stage_params
from difflab.config.runtime import for_stage
from difflab.errors import InputError
from difflab.evaluation.sample_quality import judge_samples, reference, write_steps_comparison
from difflab.models.checkpoints import load_model
from difflab.sampling.generate import steps_of

OUT = Path("reports/samplers")


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__, (*SAMPLING, "data.dir", "eval.num_samples", "samplers",
                                       "ddpm_class.guidance_scale"))
    p, rt, batch, n = params["samplers"], for_stage(params), params["sample_batch_size"], params["eval"]["num_samples"]
    unet, meta = load_model(layout.model_paths("ddpm_class").final, rt.device)
    try:  # every step count fits the model's T, before any sampling
        for k in p["num_steps"]:
            steps_of(meta, k)
    except InputError as e:
        raise SystemExit(f"compare_samplers: error: samplers.num_steps={p['num_steps']}: {e}")
    scale = params["ddpm_class"]["guidance_scale"]
    ref = reference(layout.model_paths("judge").final, params["data"]["dir"], n, rt, batch)
    digits = [i % 10 for i in range(n)]
    # columns: the variance's name (not "ddpm", a params section's name, which make compare would take for params)
    samplers = {v: ({"eta": None, "variance": v}, f"DDPM step, {v}") for v in p["variances"]}
    samplers["ddim"] = {"eta": p["ddim_eta"]}, f"DDIM, eta {p['ddim_eta']}"
    table = {column: {k: judge_samples(ref, unet, meta, n, params["seed"], rt, batch, digits, scale, k,
                                       f"{label}, {k} steps", **step) for k in p["num_steps"]}
             for column, (step, label) in samplers.items()}
    metrics = write_steps_comparison(
        OUT, table, p["num_steps"], {c: f"{label}, CFG {scale}" for c, (_, label) in samplers.items()}, ref.floor,
        "samplers.png", f"Class-conditioned DDPM (epoch {meta['epoch']}) sampled by the DDPM step and by DDIM "
        f"({n} samples per point)", {"fd_floor_train_vs_test": ref.floor, "num_samples": n, "ddim_eta": p["ddim_eta"]},
        dashed=[c for c in table if c == "fixed_large"])  # the DDPM step's two noises: one colour, the old one dashed
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
