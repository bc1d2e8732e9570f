"""The DeepFloyd IF path on tiny randomly initialised IF-shaped components, through the real loading code."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from helpers import ROOT, run_stage
from tiny_if import WIDTH, save_tiny_if

from difflab.config.params import check, load
from difflab.config.schema import Anagrams
from difflab.core.timesteps import timesteps
from difflab.core.processes import DDPMProcess
from difflab.parta import algorithms as alg
from difflab.parta import experiments
from difflab.parta.conditions import ConditionCache, prompts_in, save_conditions
from difflab.parta.deepfloyd import DeepFloydIF, IFUnavailable, t5_embeddings
from difflab.parta.experiments import EXPERIMENTS, Context, run
from difflab.core.views import VIEWS


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
    words = " ".join(prompts_in(load(ROOT / "params.yaml").parta.deepfloyd_if)).split()
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


def test_every_experiment_runs_on_the_tiny_model(tiny_ctx, monkeypatch):
    ctx = tiny_ctx
    shown = ctx.show(ctx.model.to_model(torch.rand(1, 3, 16, 16)), ["a rocket ship"])  # stage II for display
    assert shown.shape == (1, 3, 32, 32) and 0 <= shown.min() and shown.max() <= 1
    for name in EXPERIMENTS:
        path = run(name, ctx)
        assert path.stat().st_size > 5000, name
    # DDIM through the same engine, IF's predicted variance unused
    ddim = ctx.cfg.model_copy(update={"common": ctx.common.model_copy(update={"sampler": "ddim", "ddim_eta": 0.0})})
    ctx = Context.of(ctx.model, ctx.engine.conds, ddim, 2718, ctx.out_dir, name="figure")
    assert ctx.engine.process.eta == 0.0 and run("cfg", ctx).stat().st_size > 5000


@pytest.fixture(scope="module")
def tiny_ctx(tiny):
    """A Context on the tiny IF (stage I 16 x 16, stage II 32 x 32), on the tiny params' section, checked as the
    stage checks it (frozen: a test changes it by giving the Context a modified copy)."""
    root, params = tiny
    section = check(params).parta.deepfloyd_if
    c = section.common
    prompts = prompts_in(section)
    save_conditions(root / "figure-conds.safetensors", prompts,
                    t5_embeddings(prompts, c.text_encoder, "cpu", dtype="float32", variant=None), "deepfloyd_if")
    model = DeepFloydIF.from_pretrained(c.stage_1, c.stage_2, "cpu", dtype="float32", variant=None,
                                        stage_2_steps=2)
    return Context.of(model, ConditionCache(root / "figure-conds.safetensors", "deepfloyd_if"), section, 2718,
                      root / "figure-tests", name="figure")


class Spy:
    """Records stage I's samples (iterative_denoise's results), stage II's calls and the figure's rows and title."""

    def __init__(self, ctx, monkeypatch):
        self.samples, self.upsampled, self.figure = [], [], {}
        model, denoise = ctx.model, alg.iterative_denoise
        real_upsample = model.upsample

        def iterative_denoise(*args, **kwargs):
            self.samples.append(denoise(*args, **kwargs))
            return self.samples[-1]

        def upsample(x, cond, null, generator):
            out = real_upsample(x, cond, null, generator)
            self.upsampled.append((x.clone(), cond.clone(), out))
            return out

        monkeypatch.setattr(alg, "iterative_denoise", iterative_denoise)
        monkeypatch.setattr(model, "upsample", upsample)
        monkeypatch.setattr(experiments, "image_rows", lambda rows, path, title, **labels: self.figure.update(
            rows=rows, title=title))


def test_anagram_upsamples_each_view_with_its_own_prompt(tiny_ctx, monkeypatch):
    """Row k of the anagram figure is view k of stage I's sample through stage II with prompt k (stage II adds detail
    that follows its prompt: upsampling once with prompt 1 would show prompt 1's detail in every view)."""
    ctx = tiny_ctx
    entries = [e for e in ctx.cfg.anagram.anagrams if e.views in (["identity", "flip"],
                                                                  ["identity", "rot90", "rot180"])][-2:]
    monkeypatch.setattr(ctx, "cfg", ctx.cfg.model_copy(update={"anagram": Anagrams(anagrams=entries)}))
    spy = Spy(ctx, monkeypatch)
    run("anagram", ctx)
    rows = spy.figure["rows"]
    assert len(spy.samples) == len(spy.upsampled) == len(entries) == 2 and len(rows) == 3
    for j, (e, x, (up_in, up_cond, up_out)) in enumerate(zip(entries, spy.samples, spy.upsampled)):
        vs = [VIEWS[v] for v in e.views]
        torch.testing.assert_close(up_in, torch.cat([v(x) for v in vs]))  # view k of the 16 x 16 sample ...
        torch.testing.assert_close(up_cond, ctx.engine.conds(*e.prompts))  # ... with prompt k
        for k in range(3):
            cell = rows[k][j:j + 1]
            expected = ctx.model.to_unit(up_out[k:k + 1]) if k < len(vs) else torch.ones_like(cell)
            torch.testing.assert_close(cell, expected)
    assert "each view upsampled with its own prompt" in spy.figure["title"]
    assert "x0 estimates not thresholded" in spy.figure["title"]


def test_hybrid_low_pass_row_is_stage_one_blurred_then_enlarged(tiny_ctx, monkeypatch):
    """The low-pass row is stage I's sample blurred, then enlarged to the display size, without stage II (which adds
    high frequencies back); only the full row goes through stage II, with the near prompts."""
    ctx = tiny_ctx
    p = ctx.cfg.hybrid
    spy = Spy(ctx, monkeypatch)
    run("hybrid", ctx)
    (x,), rows = spy.samples, spy.figure["rows"]
    assert len(spy.upsampled) == 1  # the full row only
    up_in, up_cond, up_out = spy.upsampled[0]
    torch.testing.assert_close(up_in, x)
    torch.testing.assert_close(up_cond, ctx.engine.conds(*[near for _, near in p.pairs]))
    torch.testing.assert_close(rows[0], ctx.model.to_unit(up_out))
    low = F.interpolate(ctx.model.to_unit(alg.gaussian_blur(x, p.kernel_size, p.sigma)), size=32,
                        mode="bilinear")
    torch.testing.assert_close(rows[2], low)
    assert "low-pass view: the 16 x 16 sample blurred, then enlarged" in spy.figure["title"]


def test_factorized_blurred_views_are_stage_one_blurred_then_enlarged(tiny_ctx, monkeypatch):
    """As the hybrid's low-pass row: the frequency bands' middle and far views are stage I's sample blurred, then
    enlarged, never through stage II; only the full image is upsampled, with the high band's prompt."""
    ctx = tiny_ctx
    p = ctx.cfg.factorized
    item = next(e for e in p.items if e.kind == "bands")
    monkeypatch.setattr(ctx, "cfg", ctx.cfg.model_copy(update={"factorized": p.model_copy(update={"items": [item]})}))
    spy = Spy(ctx, monkeypatch)
    run("factorized", ctx)
    (x,), rows = spy.samples, spy.figure["rows"]
    assert len(spy.upsampled) == 1
    up_in, up_cond, up_out = spy.upsampled[0]
    torch.testing.assert_close(up_in, x)
    torch.testing.assert_close(up_cond, ctx.engine.conds(item.prompts[-1]))
    torch.testing.assert_close(rows[0], ctx.model.to_unit(up_out))
    (k_wide, k_narrow), (s_wide, s_narrow) = p.kernel_sizes, p.sigmas
    for row, (k, sigma) in ((rows[1], (k_narrow, s_narrow)), (rows[2], (k_wide, s_wide))):
        blurred = ctx.model.to_unit(alg.gaussian_blur(x, k, sigma))
        torch.testing.assert_close(row, F.interpolate(blurred, size=32, mode="bilinear"))
    assert "blurred views: the 16 x 16 sample blurred, then enlarged" in spy.figure["title"]


def test_the_engine_is_ifpipeline_but_for_its_thresholding(tiny):
    """Stage I through the engine (CFG, learned-range variance, IF's strided timesteps) equals diffusers' IFPipeline
    on the same UNet and seed where the scheduler neither thresholds nor clips x0; IF's scheduler config asks for
    dynamic thresholding, which the engine does not apply: it changes the sample, and the figures say so."""
    from diffusers import DDPMScheduler, IFPipeline, UNet2DConditionModel
    _, params = tiny
    stage_1 = params["parta"]["deepfloyd_if"]["common"]["stage_1"]
    unet = UNet2DConditionModel.from_pretrained(stage_1, subfolder="unet").eval()
    config = DDPMScheduler.load_config(stage_1, subfolder="scheduler")
    assert config["thresholding"] is True  # as IF's own scheduler config
    plain = {**config, "thresholding": False, "clip_sample": False}
    cond = torch.randn(1, 77, WIDTH, generator=torch.Generator().manual_seed(1))
    null = torch.zeros_like(cond)
    ts = timesteps(1000, stride=100)

    def diffusers_pipe(scheduler_config: dict) -> torch.Tensor:
        pipe = IFPipeline(tokenizer=None, text_encoder=None, unet=unet, safety_checker=None, feature_extractor=None,
                          scheduler=DDPMScheduler.from_config(scheduler_config), watermarker=None,
                          requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        return pipe(prompt_embeds=cond, negative_prompt_embeds=null, timesteps=ts, guidance_scale=7.0,
                    output_type="pt", generator=torch.Generator().manual_seed(0)).images

    model = DeepFloydIF(unet, DDPMScheduler.from_config(plain), dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(1, 3, 16, 16, generator=g)
    process = DDPMProcess(model.alphas_cumprod, variance="learned_range")
    ours = alg.iterative_denoise(process, x_T, ts, 0, alg.guided(model, cond, null, 7.0), g)
    theirs = diffusers_pipe(plain)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert model.caption_note == ""
    thresholded = diffusers_pipe(dict(config))
    assert (thresholded - theirs).abs().max() > 0.05
    assert "not thresholded" in DeepFloydIF(unet, DDPMScheduler.from_config(config), dtype=torch.float32).caption_note


def failing(error: Exception):
    def load(*args, **kwargs):
        raise error
    return load


def test_unavailable_weights_keep_their_cause(monkeypatch):
    """The "weights are gated" message names the hub's error, type and text, and chains it (raise ... from), so a
    traceback of IFUnavailable still shows where loading failed."""
    from diffusers import UNet2DConditionModel
    cause = OSError("DeepFloyd/IF-I-XL-v1.0 is a gated repository: 401 Client Error\nrequest id abc")
    monkeypatch.setattr(UNet2DConditionModel, "from_pretrained", failing(cause))
    with pytest.raises(IFUnavailable) as info:
        DeepFloydIF.from_pretrained("DeepFloyd/IF-I-XL-v1.0", None, "cpu", dtype="float32", variant=None)
    assert info.value.__cause__ is cause
    message = str(info.value)
    assert message.startswith("cannot load the stage I UNet of 'DeepFloyd/IF-I-XL-v1.0': OSError: DeepFloyd/IF-I-XL"
                              "-v1.0 is a gated repository: 401 Client Error")
    assert "request id abc" in message and "huggingface-cli login" in message


def test_a_value_error_from_loading_is_not_called_gated(monkeypatch):
    """Only the hub's errors (OSErrors: gated, offline, missing files, an invalid repository name) mean the weights
    are unavailable; a ValueError from loading (a broken checkpoint, a bug) keeps its traceback."""
    from diffusers import UNet2DConditionModel
    error = ValueError("Cannot load <class 'UNet2DConditionModel'>: conv_in.weight has a size mismatch")
    monkeypatch.setattr(UNet2DConditionModel, "from_pretrained", failing(error))
    with pytest.raises(ValueError, match="size mismatch") as info:
        DeepFloydIF.from_pretrained("DeepFloyd/IF-I-XL-v1.0", None, "cpu", dtype="float32", variant=None)
    assert info.value is error


@pytest.mark.slow
def test_stages_embed_then_run_an_experiment(tiny, tmp_path):
    _, params = tiny
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = run_stage(["embed_prompts.py"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    cache = ConditionCache(tmp_path / "data/prompts/hybrid.safetensors", "deepfloyd_if")  # its own prompts alone
    assert cache("a lithograph of a skull").shape == (1, 77, WIDTH) and set(cache.conds) == {
        "", *(p for pair in params["parta"]["deepfloyd_if"]["hybrid"]["pairs"] for p in pair)}
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


def test_saved_conditions_are_the_same_bytes_every_time(tmp_path):
    """embed_prompts' artefact is reproducible bit for bit: safetensors writes a metadata map of several keys in a
    random order, so the prompts and the model name travel as one JSON value (as models/checkpoints.py does)."""
    conds, files = torch.arange(6.0).reshape(3, 2), set()
    for i in range(20):
        save_conditions(tmp_path / f"{i}.safetensors", ["a", "", "b"], conds, "mnist")
        files.add((tmp_path / f"{i}.safetensors").read_bytes())
    assert len(files) == 1
    cache = ConditionCache(tmp_path / "0.safetensors", "mnist")
    torch.testing.assert_close(cache("b", "a"), conds[[2, 0]])
    with pytest.raises(ValueError, match="holds conditions for 'mnist', not 'deepfloyd_if'"):
        ConditionCache(tmp_path / "0.safetensors", "deepfloyd_if")
