"""How long the explorer's Sample tab computes a 4 x 10 grid of guided digits (CFG 3) from a class-conditioned DDPM
of the quick profile's width (D = 16, T = 300) with 20 DDIM steps, in fp32 and in the precision the explorer picks
by default (auto: bf16 where the CPU has it). The weights are untrained: the time is the same as a trained model's.
Prints the median of --repeats grids after one warm-up, and the CPU.

    python bench/explore_grid.py [--repeats 5] [--width 16]
"""

import argparse
import statistics
import time

import torch

from difflab.config.runtime import resolve
from difflab.explore.sample import Settings, draw
from difflab.models.unet import UNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--width", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    unet = UNet(args.width, "class").eval()
    meta = {"hidden": args.width, "conditioning": "class", "objective": "ddpm", "num_timesteps": 300,
            "beta_start": 1e-4, "beta_end": 0.02}
    s = Settings(digits=tuple(range(10)), rows=4, guidance_scale=3.0, num_steps=20, sampler="DDIM", eta=0.0,
                 variance="fixed_small", seed=0)
    print(f"{torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}")
    for precision in ("fp32", "auto"):
        runtime = resolve("cpu", precision)
        model = runtime.prepare(unet)
        draw(model, meta, s, runtime)  # warm-up
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            draw(model, meta, s, runtime)
            seconds.append(time.perf_counter() - start)
        print(f"{precision} -> {runtime.precision}: median {statistics.median(seconds):.2f} s "
              f"(min {min(seconds):.2f}, max {max(seconds):.2f}) for a 4 x 10 grid, 20 DDIM steps, CFG 3")


if __name__ == "__main__":
    main()
