"""Stage compare_samplers: the class-conditioned DDPM sampled by the DDPM posterior step, once per noise variance in
samplers.variances (fixed_small: the posterior's; fixed_large: sqrt(beta) of the whole stride, which leaves grain),
and by DDIM's step (Song et al. 2021, eta = samplers.ddim_eta; 0 = deterministic) over the same strided timesteps,
at every count in samplers.num_steps, from the same seeded noise and with the same CFG scale
(ddpm_class.guidance_scale). The judge scores each set of eval.num_samples digits (0-9 in turn): accuracy on the
digits asked for and Frechet distance to the test set. What fewer model calls cost each sampler: accuracy.csv and
fd.csv (one column per sampler, for `dvc plots`), metrics.json and a figure.
"""

from pathlib import Path

from difflab.config import layout
from difflab.config.params import stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.evaluation.comparisons import check_step_counts, compare_samplers
from difflab.models.checkpoints import load_model

OUT = Path("reports/samplers")


def main() -> None:
    params, _ = stage_params(__doc__)
    rt, counts = for_stage(params), params.samplers.num_steps
    check_dataset(params.data)  # the dataset on record, before any work
    unet, meta = load_model(layout.model_paths("ddpm_class").final, rt.device)
    with exit_on_input_error(f"compare_samplers: samplers.num_steps={counts}"):
        check_step_counts(meta, counts)
    metrics = compare_samplers(params, unet, meta, rt, OUT)
    print(metrics.text(), end="")


if __name__ == "__main__":
    with exit_on_input_error("compare_samplers"):  # a damaged input file or a bad value: one line, exit 2
        main()
