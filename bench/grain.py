"""Grain left by a strided DDPM: how bright the 4-pixel frame of sampled digits is, where MNIST is black, for the
DDPM step's two fixed variances (ddpm.step_std) at several step counts, beside the test set's own frame.

    python bench/grain.py                          # the workspace's class DDPM (after `make run` or `dvc repro`)
    python bench/grain.py --steps 5 10 --num 100

fixed_large adds sqrt(beta) of each whole stride, noise the later steps cannot take out; fixed_small adds the
posterior's sqrt(beta_tilde); at 300 steps (one timestep a step) both are the spec's sqrt(beta_t) and agree.
A measurement of the trained model, not a timing and not a test: report it with the run it came from.
"""

import argparse

import torch

from difflab.config import layout
from difflab.config.params import FIXED_VARIANCES
from difflab.config.runtime import resolve
from difflab.core.noise import image_generators, randn
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import load_model
from difflab.sampling.generate import generate


def frame_brightness(x: torch.Tensor, width: int = 4) -> float:
    """Mean pixel value, clamped to [0, 1], on the frame `width` pixels wide around each image."""
    inside = torch.zeros(x.shape[-2:], dtype=torch.bool)
    inside[width:-width, width:-width] = True
    return x.clamp(0, 1)[..., ~inside].mean().item()


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 300], help="step counts")
    parser.add_argument("--num", type=int, default=200, help="digits per point, 0-9 in turn (default: %(default)s)")
    parser.add_argument("--scale", type=float, default=3.0, help="CFG scale (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2718, help="(default: %(default)s)")
    parser.add_argument("--data", default="data/dataset", help="the test digits' folder (default: %(default)s)")
    args = parser.parse_args()
    rt = resolve("cpu", "auto")
    unet, meta = load_model(layout.model_paths("ddpm_class").final, rt.device)
    test, _ = load_mnist(args.data, "test", args.num)
    print(f"{rt.summary()}; class DDPM of epoch {meta['epoch']}, D = {unet.hidden}, CFG {args.scale}, {args.num} digits")
    print(f"test digits: frame brightness {frame_brightness(test):.4f}")
    digits = [i % 10 for i in range(args.num)]
    for steps in args.steps:
        row = []
        for variance in FIXED_VARIANCES:
            gens = image_generators(args.seed, args.num)
            x = generate(unet, meta, randn((args.num, 1, 28, 28), gens), gens, digits, args.scale, runtime=rt,
                         num_steps=steps, variance=variance)
            row.append(f"{variance} {frame_brightness(x):.4f}")
        print(f"{steps:4d} steps: " + ", ".join(row))


if __name__ == "__main__":
    main()
