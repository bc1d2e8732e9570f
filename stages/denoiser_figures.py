"""Stage denoiser_figures: the SPEC B1 figures: test digits noised at every sigma in denoiser.sigmas, and the same
digits denoised by the model after denoiser.snapshot_epoch and after the last epoch (input / noisy / outputs)."""

import torch

from difflab.config import layout
from difflab.config.params import stage_params
from difflab.config.runtime import use_threads
from difflab.data.mnist import check_dataset, load_mnist
from difflab.errors import exit_on_input_error
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import image_rows
from difflab.training.denoiser import add_gaussian_noise


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__)
    use_threads(params.threads)
    check_dataset(params.data)  # the dataset on record, before any work
    p = params.denoiser
    paths = layout.model_paths("denoiser")
    x, _ = load_mnist(params.data.dir, "test", p.num_digits)
    g = torch.Generator().manual_seed(params.seed)

    noisy = [add_gaussian_noise(x, s, g) for s in p.sigmas]
    image_rows([torch.stack([row[i] for row in noisy]) for i in range(len(x))], paths.reports / "noising.png",
               title="Noising process z = x + sigma * eps", col_labels=[f"sigma = {s}" for s in p.sigmas])

    early, early_meta = load_model(paths.snapshot)
    final, final_meta = load_model(paths.final)
    z = add_gaussian_noise(x, p.sigma, g)
    image_rows([x, z.clamp(0, 1), early(z), final(z)], paths.reports / "denoised.png",
               title=f"Denoising test digits at the training sigma = {p.sigma}",
               row_labels=["clean x", f"noisy (sigma={p.sigma})", f"D(z), epoch {early_meta['epoch']}",
                           f"D(z), epoch {final_meta['epoch']}"])


if __name__ == "__main__":
    with exit_on_input_error("denoiser_figures"):  # a damaged input file or a bad value: one line, exit 2
        main()
