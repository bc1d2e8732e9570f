"""The DeepFloyd IF path on tiny randomly initialised IF-shaped components, through the real loading code."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from difflab.diffusion.conditions import ConditionCache, prompts_in, save_conditions
from difflab.diffusion.deepfloyd import DeepFloydIF, IFUnavailable, t5_embeddings
from difflab.diffusion.experiments import EXPERIMENTS, Context, run
from tiny_if import WIDTH, save_tiny_if

ROOT = Path(__file__).resolve().parents[1]


def tiny_params(stage_1: Path, stage_2: Path) -> dict:
    """The committed deepfloyd_if section, pointed at the tiny components, with short schedules."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["parta"]["model"] = "deepfloyd_if"
    section = params["parta"]["deepfloyd_if"]
    section["common"].update(stage_1=str(stage_1), stage_2=str(stage_2), text_encoder=str(stage_1), dtype="float32",
                             variant=None, stride=100, stage_2_steps=2)
    section["sample"]["num_inference_steps"] = [2, 5]
    section["iterative"].update(i_start=4, show_every=2)
    section["sdedit"]["i_start"] = [1, 5]
    section["hybrid"]["kernel_size"] = 9  # 33 is for 64 x 64; the tiny stage I is 16 x 16
    section["factorized"].update(kernel_sizes=[9, 3], sigmas=[2.0, 0.7])
    return params


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("if")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    words = " ".join(prompts_in(params["parta"]["deepfloyd_if"])).split()
    stage_1, stage_2 = save_tiny_if(root, words)
    return root, tiny_params(stage_1, stage_2)


def test_t5_embeddings_have_the_encoder_shape(tiny):
    _, params = tiny
    repo = params["parta"]["deepfloyd_if"]["common"]["text_encoder"]
    emb = t5_embeddings(["a rocket ship", "", "a man wearing a hat"], repo, "cpu", dtype="float32", variant=None)
    assert emb.shape == (3, 77, WIDTH) and torch.isfinite(emb).all()
    assert not torch.allclose(emb[0], emb[2])


def test_model_predicts_eps_and_variance_and_upsamples(tiny):
    _, params = tiny
    c = params["parta"]["deepfloyd_if"]["common"]
    model = DeepFloydIF.from_pretrained(c["stage_1"], c["stage_2"], "cpu", dtype="float32", variant=None,
                                        stage_2_steps=2)
    assert (model.image_size, model.num_train_timesteps, model.alphas_cumprod.dtype) == (16, 1000, torch.float64)
    x, cond = torch.randn(2, 3, 16, 16), torch.randn(2, 77, WIDTH)
    eps, var = model.predict(x, 500, cond)
    assert eps.shape == var.shape == (2, 3, 16, 16)
    up = model.upsample(x.clamp(-1, 1), cond, torch.zeros(2, 77, WIDTH), torch.Generator().manual_seed(0))
    assert up.shape == (2, 3, 32, 32) and torch.isfinite(up).all()
    shown = model.to_unit(up)
    assert shown.min() >= 0 and shown.max() <= 1


def test_the_first_three_output_channels_are_eps_and_the_last_three_the_variance(tiny):
    """IF's stage I (diffusers' IFPipeline and DDPMScheduler's learned_range) reads output channels 0-2 as the noise
    and 3-5 as the variance: with the UNet's last convolution zeroed, its output is its bias, channel by channel."""
    _, params = tiny
    c = params["parta"]["deepfloyd_if"]["common"]
    model = DeepFloydIF.from_pretrained(c["stage_1"], None, "cpu", dtype="float32", variant=None)
    bias = torch.tensor([0.3, -0.7, 1.1, -0.2, 0.4, 0.9])
    with torch.no_grad():
        model.unet_1.conv_out.weight.zero_()
        model.unet_1.conv_out.bias.copy_(bias)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    eps, var = model.predict(x, 500, torch.randn(2, 77, WIDTH))
    assert eps.dtype == var.dtype == torch.float64  # back in the caller's dtype
    torch.testing.assert_close(eps, bias[:3].double().reshape(1, 3, 1, 1).expand(2, 3, 16, 16))
    torch.testing.assert_close(var, bias[3:].double().reshape(1, 3, 1, 1).expand(2, 3, 16, 16))


def test_every_experiment_runs_on_the_tiny_model(tiny):
    root, params = tiny
    section = params["parta"]["deepfloyd_if"]
    c = section["common"]
    prompts = prompts_in(section)
    save_conditions(root / "conds.safetensors", prompts,
                    t5_embeddings(prompts, c["text_encoder"], "cpu", dtype="float32", variant=None), "deepfloyd_if")
    model = DeepFloydIF.from_pretrained(c["stage_1"], c["stage_2"], "cpu", dtype="float32", variant=None,
                                        stage_2_steps=2)
    ctx = Context(model, ConditionCache(root / "conds.safetensors", "deepfloyd_if"), section, 2718, root / "figs")
    shown = ctx.show(model.to_model(torch.rand(1, 3, 16, 16)), ["a rocket ship"])  # stage II for display
    assert shown.shape == (1, 3, 32, 32) and 0 <= shown.min() and shown.max() <= 1
    for name in EXPERIMENTS:
        path = run(name, ctx)
        assert path.stat().st_size > 5000, name
    c.update(sampler="ddim", ddim_eta=0.0)  # DDIM through the same engine, IF's predicted variance unused
    assert ctx.eta == 0.0 and run("cfg", ctx).stat().st_size > 5000


def run_stage(args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "stages" / args[0]), *args[1:]], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, **env))


def test_stages_embed_then_run_an_experiment(tiny, tmp_path):
    _, params = tiny
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = run_stage(["embed_prompts.py"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    cache = ConditionCache(tmp_path / "data/prompt_conditions.safetensors", "deepfloyd_if")
    assert cache("a lithograph of a skull").shape == (1, 77, WIDTH)
    for experiment in ("anagram", "factorized"):  # every view (negate too: IF's range is [-1, 1]), every kind
        out = run_stage(["parta.py", experiment], tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        assert (tmp_path / f"reports/parta/{experiment}.png").stat().st_size > 5000


def test_unknown_prompt_and_missing_weights_fail_clearly(tmp_path):
    save_conditions(tmp_path / "c.safetensors", [""], torch.zeros(1, 77, WIDTH), "deepfloyd_if")
    with pytest.raises(ValueError, match="no cached condition for \\['a rocket ship'\\]"):
        ConditionCache(tmp_path / "c.safetensors", "deepfloyd_if")("a rocket ship")
    with pytest.raises(IFUnavailable, match="gated on the Hugging Face hub"):
        DeepFloydIF.from_pretrained(str(tmp_path / "nowhere"), None, "cpu", dtype="float32", variant=None)
    # the stage with the real, gated hub names and no network: a clear message, no traceback, nothing written
    real = yaml.safe_load((ROOT / "params.yaml").read_text())
    real["parta"]["model"] = "deepfloyd_if"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(real))
    out = run_stage(["embed_prompts.py"], tmp_path, HF_HUB_OFFLINE="1")
    assert out.returncode == 1
    assert "embed_prompts: cannot load the tokenizer of 'DeepFloyd/IF-I-XL-v1.0'" in out.stderr
    assert "huggingface-cli login" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "data").exists()
