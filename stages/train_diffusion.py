"""Stage train_<model>: train one of the four generative UNets on the dataset (data.dataset: MNIST by default), all
with the same loop (difflab.training.loop):

- ddpm_time / ddpm_class (SPEC B2 / B3): predict the noise eps in
  x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps;
- flow_time / flow_class (the course's flow-matching part B): predict the velocity x1 - x0 at
  x_t = (1 - t) x0 + t x1, x0 noise, x1 a digit.
The class-conditioned models drop the class to the null vector with probability p_uncond.

Adam with ExponentialLR (gamma = lr_final_factor ** (1 / epochs), stepped per epoch). Writes the final weights and
those after <model>.snapshot_epoch(s), the per-step loss (DVCLive) and its figure; resumes from checkpoints/<model>.
"""

from difflab.config.params import DIFFUSION_MODELS, stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.training.generative import train_diffusion


def main() -> None:
    params, args = stage_params(
        __doc__, extra_args=lambda p: p.add_argument("model", choices=DIFFUSION_MODELS, help="which model to train"))
    for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    train_diffusion(params, args.model)


if __name__ == "__main__":
    with exit_on_input_error("train_diffusion"):  # a damaged input file or a bad value: one line, exit 2
        main()
