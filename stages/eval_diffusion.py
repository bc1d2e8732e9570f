"""Stage eval_<model>: sample quality of a trained generative UNet (DDPM or flow matching), measured with the judge.

- judge Frechet distance (FID's formula on the judge's 128-d features; not Inception FID) between eval.num_samples
  generated digits and the MNIST test set, beside the same distance for as many real training digits (the floor);
- class-conditioned models: for every CFG scale in eval.guidance_scales, the judge's accuracy on the digits asked
  for and the distance above (metrics, a table for `dvc plots`, and figures).
Every distance, the floor's too, comes with its 95 % interval: a bootstrap of eval.bootstrap_resamples draws of the
samples (seeded by `seed`), the test set fixed. The DDPMs sample with all T steps, the flow models with
<model>.num_steps Euler steps.
"""

from difflab.config import layout
from difflab.config.params import DIFFUSION_MODELS, stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.evaluation.generative import judge_model


def main() -> None:
    params, args = stage_params(
        __doc__, extra_args=lambda p: p.add_argument("model", choices=DIFFUSION_MODELS, help="which model to judge"))
    rt = for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    metrics = judge_model(params, args.model, rt)
    metrics.write(layout.model_paths(args.model).reports / "eval.json")
    print(metrics.text(), end="")


if __name__ == "__main__":
    with exit_on_input_error("eval_diffusion"):  # a damaged input file or a bad value: one line, exit 2
        main()
