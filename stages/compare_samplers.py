"""Stage compare_samplers: the class-conditioned DDPM sampled by the DDPM posterior step and by DDIM's (Song et al.
2021, eta = samplers.ddim_eta; 0 = deterministic) over the same strided timesteps, at every count in
samplers.num_steps, from the same seeded noise and with the same CFG scale (ddpm_class.guidance_scale). The judge
scores each set of eval.num_samples digits (0-9 in turn): accuracy on the digits asked for and Frechet distance to
the test set. What fewer model calls cost each sampler: accuracy.csv and fd.csv (one column per sampler, for
`dvc plots`), metrics.json and a figure.
"""

import json
from pathlib import Path

import torch

from difflab import layout
from difflab.checkpoints import load_model
from difflab.figures import steps_curves
from difflab.params import SAMPLING, stage_params
from difflab.runtime import for_stage
from difflab.sample_quality import judge_samples, reference, write_steps_tables

OUT = Path("reports/samplers")


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__, (*SAMPLING, "data.dir", "eval.num_samples", "samplers", "ddpm.num_timesteps",
                                       "ddpm_class.guidance_scale"))
    p, T = params["samplers"], params["ddpm"]["num_timesteps"]
    too_many = [k for k in p["num_steps"] if k > T]
    if too_many:
        raise SystemExit(f"compare_samplers: error: samplers.num_steps={p['num_steps']}: {too_many} exceed the "
                         f"DDPM's T = {T}; allowed: 1 .. {T}")
    rt, batch, n = for_stage(params), params["sample_batch_size"], params["eval"]["num_samples"]
    scale = params["ddpm_class"]["guidance_scale"]
    ref = reference(layout.model_paths("judge").final, params["data"]["dir"], n, rt, batch)
    unet, meta = load_model(layout.model_paths("ddpm_class").final, rt.device)
    digits = [i % 10 for i in range(n)]
    # columns: not "ddpm", a params section's name (make compare would take them for its params)
    samplers = {"ddpm_step": (None, "DDPM posterior step"), "ddim": (p["ddim_eta"], f"DDIM, eta {p['ddim_eta']}")}
    table = {column: {k: judge_samples(ref, unet, meta, n, params["seed"], rt, batch, digits, scale, k,
                                       f"{label}, {k} steps", eta=eta) for k in p["num_steps"]}
             for column, (eta, label) in samplers.items()}
    write_steps_tables(OUT, table, p["num_steps"])
    curves = {f"{label}, CFG {scale}": {k: (v["judge_accuracy"], v["fd_to_test"]) for k, v in table[c].items()}
              for c, (_, label) in samplers.items()}
    steps_curves(curves, ref.floor, OUT / "samplers.png", f"Class-conditioned DDPM (epoch {meta['epoch']}) "
                 f"sampled by the DDPM step and by DDIM ({n} samples per point)")
    metrics = {"fd_floor_train_vs_test": ref.floor, "num_samples": n, "ddim_eta": p["ddim_eta"],
               **{c: {f"steps_{k}": v for k, v in rows.items()} for c, rows in table.items()}}
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
