"""The part A engine against diffusers' IFPipeline on the same UNet: seconds per image and peak memory for
CFG sampling at 20 and 100 steps (stage I), and stage II upsampling.

    python bench/if_engine.py --stage-1-config IF-I-XL/unet/config.json --stage-2-config IF-II-L/unet/config.json
    python bench/if_engine.py --tiny            # the tests' tiny IF-shaped UNets: a smoke run on any machine

The UNets are built from their configs with random weights (speed does not depend on weight values), so the
gated checkpoints are not needed: only the two config.json files (public on the model pages). fp16 on CUDA.
Never run as a test; report the numbers with the machine they came from.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler, IFPipeline, UNet2DConditionModel

from difflab.core.timesteps import timesteps
from difflab.parta import algorithms as alg
from difflab.parta.deepfloyd import DeepFloydIF


def if_scheduler() -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", variance_type="learned_range",
                         thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.0)


def build(config: Path | None, tiny_in: int, dtype, device) -> UNet2DConditionModel:
    if config is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from tiny_if import _unet
        unet = _unet(tiny_in, 16 if tiny_in == 3 else 32, tiny_in == 6)
    else:
        unet = UNet2DConditionModel.from_config(json.loads(Path(config).read_text()))
    return unet.to(device, dtype).eval()


def timed(fn, device) -> tuple[float, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(), torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else float("nan")
    return time.perf_counter() - start, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage-1-config", type=Path)
    parser.add_argument("--stage-2-config", type=Path)
    parser.add_argument("--tiny", action="store_true", help="tiny IF-shaped UNets instead of configs")
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--stage-2-steps", type=int, default=50)
    args = parser.parse_args()
    if not args.tiny and args.stage_1_config is None:
        parser.error("give --stage-1-config (and --stage-2-config), or --tiny")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    unet_1 = build(args.stage_1_config, 3, dtype, device)
    width = unet_1.config.encoder_hid_dim
    cond = torch.randn(1, 77, width, device=device, dtype=dtype)
    null = torch.zeros_like(cond)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {dtype}; stage I {sum(p.numel() for p in unet_1.parameters()) / 1e6:.0f}M"
          f" parameters")
    model = DeepFloydIF(unet_1, if_scheduler(), device=device, dtype=dtype)
    pipe = IFPipeline(tokenizer=None, text_encoder=None, unet=unet_1, scheduler=if_scheduler(), safety_checker=None,
                      feature_extractor=None, watermarker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    size = model.image_size
    for steps in args.steps:
        ts = timesteps(1000, num_steps=steps)
        g = torch.Generator(device=device).manual_seed(0)

        def engine():
            x_T = torch.randn(1, 3, size, size, generator=g, device=device)
            alg.iterative_denoise(model, x_T, ts, 0, alg.guided(model, cond, null, 7.0), g, variance="learned_range")

        def diffusers_pipe():
            pipe(prompt_embeds=cond, negative_prompt_embeds=null, timesteps=ts, guidance_scale=7.0,
                 output_type="pt", generator=g)

        engine(), diffusers_pipe()  # warm-up
        for label, fn in (("engine", engine), ("IFPipeline", diffusers_pipe)):
            s, peak = timed(fn, device)
            print(f"stage I, {len(ts):3d} steps, CFG 7, batch 1: {label:>10}: {s:7.2f} s/image, peak {peak:.1f} GiB")
    if args.tiny or args.stage_2_config:
        unet_2 = build(args.stage_2_config, 6, dtype, device)
        noising = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
        up = DeepFloydIF(unet_1, if_scheduler(), unet_2, if_scheduler(), noising, device=device, dtype=dtype,
                         stage_2_steps=args.stage_2_steps)
        x = torch.rand(1, 3, size, size, device=device) * 2 - 1
        up.upsample(x, cond, null, torch.Generator(device=device).manual_seed(0))
        s, peak = timed(lambda: up.upsample(x, cond, null, torch.Generator(device=device).manual_seed(0)), device)
        print(f"stage II, {args.stage_2_steps} steps (diffusers' IFSuperResolutionPipeline): {s:7.2f} s/image, "
              f"peak {peak:.1f} GiB")


if __name__ == "__main__":
    main()
