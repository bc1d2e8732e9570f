"""Stage train_denoiser / train_pure_noise: train the single-step UNet denoiser on MNIST.

- denoiser (SPEC B1): D(x + sigma * eps) ~ x, the noise level fixed at denoiser.sigma;
- pure_noise (the course's "denoising pure noise"): D(z) ~ x with z ~ N(0, I) independent of x, which can only
  learn the average digit (stage pure_noise_figures shows it).
Writes the final weights and those after <model>.snapshot_epoch, the per-step loss (DVCLive) and its figure.
An interrupted run resumes from checkpoints/<model>.
"""

from difflab.config.params import stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.training.single_step import train_denoiser


def main() -> None:
    params, args = stage_params(
        __doc__, extra_args=lambda p: p.add_argument("model", nargs="?", default="denoiser", choices=("denoiser", "pure_noise"),
                                            help="which denoiser to train (default: %(default)s)"))
    for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    train_denoiser(params, args.model)


if __name__ == "__main__":
    with exit_on_input_error("train_denoiser"):  # a damaged input file or a bad value: one line, exit 2
        main()
