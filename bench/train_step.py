"""Speed of the course UNet: milliseconds per training step and per sampling step, and projected epoch time.

    python bench/train_step.py [--hidden 128] [--batch 128] [--device auto] [--steps 10]

Never run as a test: timings depend on the machine. Report them with the machine they came from.
"""

import argparse
import time

import torch

from difflab.ddpm import ddpm_loss, linear_alphas_cumprod
from difflab.diffusion.algorithms import guided
from difflab.diffusion.model import MnistDiffusion
from difflab.params import resolve_device
from difflab.unet import UNet


def timed(fn, steps: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    ab = linear_alphas_cumprod(300, 1e-4, 0.02)
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(args.batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    print(f"device: {name}; torch {torch.__version__}; D={args.hidden}, batch {args.batch}")
    for conditioning in ("time", "class"):
        model = UNet(args.hidden, conditioning).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = ddpm_loss(ab, conditioning, 0.1)

        def train_step():
            loss = loss_fn(model, x, y, g)
            opt.zero_grad()
            loss.backward()
            opt.step()

        t_train = timed(train_step, args.steps, device)
        model.eval()
        if conditioning == "class":  # CFG: conditional and unconditional estimates in one batched call
            schedule = {"num_timesteps": 300, "beta_start": 1e-4, "beta_end": 0.02}
            predict = guided(MnistDiffusion(model, schedule, device), torch.nn.functional.one_hot(y, 10).float(),
                             torch.zeros(1, 10, device=device), 3.0)
        else:
            def predict(x, t):
                return model(x, torch.full((len(x),), t / 300, device=device))
        with torch.no_grad():
            t_sample = timed(lambda: predict(x, 150), args.steps, device)
        epoch_s = t_train * 60000 / args.batch
        print(f"{conditioning:>5}: train {t_train * 1e3:8.1f} ms/step ({epoch_s / 60:6.1f} min per 60k-digit epoch); "
              f"sample {t_sample * 1e3:7.1f} ms/step for {args.batch} digits ({t_sample * 300:6.1f} s per 300 steps)")


if __name__ == "__main__":
    main()
