"""Stage sample_<model>: digits drawn from pure noise by a trained generative UNet, after each of its saved epochs
(SPEC B2/B3: the DDPMs after <model>.snapshot_epoch and the last epoch, samples_snapshot.png and samples_final.png;
flow matching after each of <model>.snapshot_epochs and the last, samples/samples_epoch<N>.png and
samples/samples_final.png), and a GIF of the last model's path from noise to digits (reverse.gif for a DDPM,
trajectory.gif for the Euler steps of a flow).

The DDPMs step through all T timesteps, the flow models take <model>.num_steps Euler steps. The class-conditioned
models draw samples_per_class of every digit 0-9 with classifier-free guidance (<model>.guidance_scale). Every
grid starts from the same noise, so the grids compare like with like.
"""

from difflab.config.params import DIFFUSION_MODELS, stage_params
from difflab.config.runtime import for_stage
from difflab.errors import exit_on_input_error
from difflab.sampling.grids import sample_figures


def main() -> None:
    params, args = stage_params(
        __doc__, extra_args=lambda p: p.add_argument("model", choices=DIFFUSION_MODELS, help="which model to sample"))
    sample_figures(params, args.model, for_stage(params))


if __name__ == "__main__":
    with exit_on_input_error("sample_diffusion"):  # a damaged input file or a bad value: one line, exit 2
        main()
