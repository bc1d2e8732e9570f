"""Precision, memory format and the host-free training loop: the choices, their errors, and that the fast paths
keep the guarantees of the old one (fp32 numbers unchanged, seeded runs identical, resume exact)."""

import pytest
import torch
import yaml
from helpers import CPU_FP32, ROOT, class_config, run_stage, train
from safetensors.torch import load_file

from difflab.config import runtime
from difflab.config.params import ParamError, Params, check
from difflab.core.noise import image_generators, randn
from difflab.models.checkpoints import save_model
from difflab.models.unet import UNet
from difflab.sampling.generate import generate
from difflab.training.denoiser import denoiser_loss
from difflab.training.loop import TrainConfig, fit

CPU = torch.device("cpu")
BF16_HERE = runtime.bf16_capability(CPU)[0]
needs_bf16 = pytest.mark.skipif(not BF16_HERE, reason="this CPU's oneDNN has no bf16")
CFG = class_config()
# The per-step losses of the fp32 eager loop before the fast paths were written (tiny class-conditioned UNet, the
# config above; a denoiser at batch 40 for 2 epochs). The fp32 path must still give these numbers.
CLASS_LOSSES = [1.0527067184448242, 1.064225196838379, 1.0354374647140503, 1.0015288591384888, 1.0051770210266113,
                0.9977676272392273, 0.9847640991210938, 0.9875974655151367, 0.9747769236564636]
DENOISER_LOSSES = [0.17305871844291687, 0.16356445848941803, 0.15162383019924164, 0.14230333268642426,
                   0.13169389963150024, 0.12366800010204315]


def fake_cpu(monkeypatch, supported: bool, native: bool) -> None:
    monkeypatch.setattr(runtime, "bf16_capability", lambda device: (supported, native) if device.type == "cpu"
                        else (True, True))


# --- choosing the precision ------------------------------------------------------------------------------------

def test_auto_is_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    fake_cpu(monkeypatch, supported=True, native=True)
    assert runtime.resolve("cpu", "auto").precision == "bf16"
    fake_cpu(monkeypatch, supported=True, native=False)  # oneDNN emulates it: correct but slow
    assert runtime.resolve("cpu", "auto").precision == "fp32"
    assert runtime.resolve("cpu", "bf16").precision == "bf16"  # asked for explicitly, it is allowed
    fake_cpu(monkeypatch, supported=False, native=False)
    assert runtime.resolve("cpu", "auto").precision == "fp32"
    assert runtime.resolve("cpu", "fp32").precision == "fp32"


def test_a_precision_this_device_lacks_stops_with_what_it_allows(monkeypatch):
    fake_cpu(monkeypatch, supported=False, native=False)
    with pytest.raises(ParamError, match=r"precision='bf16' is not available on this device \(CPU.*\); "
                                         r"allowed here: auto, fp32$"):
        runtime.resolve("cpu", "bf16")
    with pytest.raises(ParamError, match=r"precision='fp16' is not available.*allowed here: auto, fp32"):
        runtime.resolve("cpu", "fp16")
    for key, value, allowed in (("precision", "fp8", "'auto', 'fp32', 'bf16' or 'fp16'"),
                                ("channels_last", "yes", "'auto', 'on' or 'off'"),
                                ("compile", "maybe", "'auto', 'on' or 'off'"), ("device", "tpu", "'auto', 'cpu' or 'cuda'")):
        with pytest.raises(ParamError, match=f"^{key}='{value}' is not allowed; allowed: {allowed}$"):
            check({**yaml.safe_load((ROOT / "params.yaml").read_text()), key: value})  # the schema's rule, once


def test_a_stage_runs_on_the_thread_count_its_params_name():
    before = torch.get_num_threads()
    params = {"device": "cpu", "precision": "fp32", "channels_last": "off", "compile": "off"}
    try:
        runtime.for_stage(Params.model_construct(**params, threads=1))
        assert torch.get_num_threads() == 1
        runtime.for_stage(Params.model_construct(**params, threads="auto"))  # auto leaves what the process has
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_channels_last_and_compile_choices(monkeypatch):
    fake_cpu(monkeypatch, supported=True, native=True)
    bf16, fp32 = runtime.resolve("cpu", "bf16"), runtime.resolve("cpu", "fp32")
    monkeypatch.setattr(runtime, "cpu_has_amx", lambda: True)
    assert [bf16.use_channels_last(w) for w in (16, 32, 128)] == [False, True, True]
    monkeypatch.setattr(runtime, "cpu_has_amx", lambda: False)  # AVX512-BF16 only: faster at every width
    assert [bf16.use_channels_last(w) for w in (16, 32, 128)] == [True, True, True]
    assert not fp32.use_channels_last(128)
    assert runtime.resolve("cpu", "fp32", channels_last="on").use_channels_last(4)
    assert not runtime.resolve("cpu", "bf16", channels_last="off").use_channels_last(128)
    assert not runtime.resolve("cpu", "fp32").compile  # auto: compiled on CUDA only
    assert runtime.resolve("cpu", "fp32", compile="on").compile
    model = runtime.resolve("cpu", "bf16", channels_last="on").prepare(UNet(4, "class"))
    assert model.enc0[0][0].weight.is_contiguous(memory_format=torch.channels_last)


@needs_bf16
def test_autocast_computes_in_the_reduced_precision_and_keeps_fp32_weights():
    rt = runtime.resolve("cpu", "bf16")
    model = rt.prepare(UNet(4, "none"))
    with rt.autocast():
        out = model(torch.rand(2, 1, 28, 28))
    assert out.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with runtime.resolve("cpu", "fp32").autocast():
        assert model(torch.rand(2, 1, 28, 28)).dtype == torch.float32


def test_a_stage_refuses_a_precision_the_device_lacks_before_any_work(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["precision"] = "fp16"  # CUDA only
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    if torch.cuda.is_available():
        pytest.skip("fp16 is allowed where CUDA is present")
    for stage in (["train_denoiser.py"], ["sample_diffusion.py", "ddpm_class"], ["eval_diffusion.py", "ddpm_time"]):
        out = run_stage([*stage, "--params", "params.yaml"], tmp_path)
        assert out.returncode == 2, (stage, out.stderr)
        assert "precision='fp16' is not available on this device (CPU" in out.stderr
        assert "allowed here: auto, fp32" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


# --- the fp32 path did not change ------------------------------------------------------------------------------

def test_fp32_losses_are_those_of_the_loop_before_the_fast_paths(tmp_path, digits):
    assert train(tmp_path / "c", digits).losses == pytest.approx(CLASS_LOSSES, rel=1e-6, abs=0)
    torch.manual_seed(2718)
    cfg = TrainConfig(epochs=2, batch_size=40, lr=1e-3, seed=2718, **CPU_FP32)
    result = fit(UNet(4, "none"), denoiser_loss(0.5), *digits, cfg, tmp_path / "d.pt", tmp_path / "dlog")
    assert result.losses == pytest.approx(DENOISER_LOSSES, rel=1e-6, abs=0)


@pytest.mark.parametrize("log_every", [1, 2, 100])
def test_losses_reach_the_log_unchanged_whatever_log_every(tmp_path, digits, log_every):
    cfg = TrainConfig(**{**CFG.__dict__, "log_every": log_every})
    result = train(tmp_path, digits, cfg)
    assert result.losses == pytest.approx(CLASS_LOSSES, rel=1e-6, abs=0)
    rows = (tmp_path / "log/plots/metrics/train/loss.tsv").read_text().splitlines()[1:]
    assert [float(r.split("\t")[-1]) for r in rows] == pytest.approx(result.losses, rel=1e-6)
    assert [int(r.split("\t")[0]) for r in rows] == list(range(len(result.losses)))


# --- bf16 keeps determinism and resume ---------------------------------------------------------------------------

BF16 = TrainConfig(**{**CFG.__dict__, "precision": "bf16", "channels_last": "on"})


def assert_same_run(a, b) -> None:
    """The same losses at every step and bit-identical final weights."""
    assert a.losses == b.losses
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k]), k


@needs_bf16
def test_bf16_training_learns_and_saves_fp32_contiguous_weights(tmp_path, digits):
    result = train(tmp_path, digits, BF16, hidden=8)
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    assert result.losses != pytest.approx(CLASS_LOSSES, rel=1e-4)  # it did run in another precision
    save_model(tmp_path / "m.safetensors", result.state_dict, {"hidden": 8, "conditioning": "class"})
    saved = load_file(str(tmp_path / "m.safetensors"))
    assert {t.dtype for t in saved.values() if t.is_floating_point()} == {torch.float32}
    assert all(t.is_contiguous() for t in saved.values())


@needs_bf16
def test_seeded_bf16_runs_are_identical(tmp_path, digits):
    assert_same_run(*(train(tmp_path / run, digits, BF16) for run in "ab"))


@needs_bf16
def test_bf16_resume_after_a_kill_equals_an_unbroken_run(tmp_path, digits):
    class Killed(Exception):
        pass

    def kill_after_first(epoch):
        if epoch == 1:
            raise Killed

    unbroken = train(tmp_path / "a", digits, BF16)
    with pytest.raises(Killed):
        train(tmp_path / "b", digits, BF16, on_epoch_end=kill_after_first)
    seen = []
    resumed = train(tmp_path / "b", digits, BF16, on_epoch_end=seen.append)
    assert seen == [2, 3]
    assert_same_run(unbroken, resumed)


@needs_bf16
def test_a_checkpoint_from_another_precision_is_not_resumed(tmp_path, digits):
    def stop(epoch):
        if epoch == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, digits, CFG, on_epoch_end=stop)
    seen = []
    train(tmp_path, digits, BF16, on_epoch_end=seen.append)
    assert seen == [1, 2, 3]


# --- sampling ----------------------------------------------------------------------------------------------------

def tiny_class_model(seed=0):
    torch.manual_seed(seed)
    unet = UNet(4, "class")
    for m in unet.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return unet.eval(), {"num_timesteps": 20, "beta_start": 1e-4, "beta_end": 0.02}


def test_sampling_in_batches_keeps_every_image_and_its_class():
    unet, meta = tiny_class_model()
    gens = image_generators(2, 10)
    x_T = randn((10, 1, 28, 28), gens)
    seen = []
    original = unet.forward

    def spy(x, t, c):
        seen.append(c.argmax(1).tolist()[:len(x) // 2])
        return original(x, t, c)
    unet.forward = spy
    generate(unet, meta, x_T, gens, list(range(10)), 3.0, batch_size=4)
    assert seen[0] == [0, 1, 2, 3] and [0, 1, 2, 3] in seen and [4, 5, 6, 7] in seen and [8, 9] in seen
    with pytest.raises(ValueError, match="batch_size=0; allowed: an integer >= 1"):
        generate(unet, meta, x_T, gens, list(range(10)), 3.0, batch_size=0)
    with pytest.raises(ValueError, match="batch_size=4 for 10 images with one generator"):
        generate(unet, meta, x_T, torch.Generator(), list(range(10)), 3.0, batch_size=4)
    with pytest.raises(ValueError, match="9 generators for 10 images"):
        generate(unet, meta, x_T, gens[:9], list(range(10)), 3.0)


class PixelwiseUNet(torch.nn.Module):
    """A stand-in for the UNet whose output for an image depends on that image alone, bit for bit, at any batch
    size (the real UNet's convolutions pick kernels by batch size, so its images agree across batch sizes only to
    rounding: see the next test). The class enters through a one-hot product, exact whatever the batch."""

    def __init__(self, conditioning: str):
        super().__init__()
        self.conditioning, self.hidden = conditioning, 1
        self.by_class = torch.nn.Parameter(torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(3)))

    def forward(self, x, t, c=None):
        out = torch.tanh(0.9 * x + t.reshape(-1, 1, 1, 1))
        if c is not None:
            out = out + (c.reshape(-1, 10, 1, 1, 1) * self.by_class).sum(1)
        return out


DDPM_META = {"num_timesteps": 20, "beta_start": 1e-4, "beta_end": 0.02}
FLOW_META = {"objective": "flow", "epoch": 1}


@pytest.mark.parametrize("meta, keywords", [
    (DDPM_META, {}),  # the DDPM step over all T (sqrt(beta_t) noise)
    (DDPM_META, {"num_steps": 7}),  # strided, fixed_small noise
    (DDPM_META, {"num_steps": 7, "eta": 0.5}),  # DDIM with part of the noise
    (FLOW_META, {"num_steps": 5}),  # Euler steps
], ids=["ddpm", "strided ddpm", "ddim eta 0.5", "flow"])
@pytest.mark.parametrize("conditioning, scale", [("class", 3.0), ("time", 1.0)], ids=["guided", "unguided"])
def test_the_digits_a_seed_draws_do_not_depend_on_the_batching(meta, keywords, conditioning, scale):
    """sample_batch_size is a memory knob: image i's noise comes from its own generator (noise.image_generators),
    so batch sizes 1, 7 and all give the same bytes, and the first 10 images of a set of 20 are a set of 10."""
    unet = PixelwiseUNet(conditioning)
    digits = [i % 10 for i in range(20)] if conditioning == "class" else None

    def draw(n: int, batch_size: int | None = None) -> torch.Tensor:
        gens = image_generators(5, n)
        return generate(unet, meta, randn((n, 1, 28, 28), gens), gens, digits and digits[:n], scale,
                        batch_size=batch_size, **keywords)
    whole = draw(20)
    for batch_size in (1, 7):
        assert torch.equal(draw(20, batch_size), whole), batch_size
    assert torch.equal(draw(10), whole[:10])
    assert not torch.equal(whole[:10], whole[10:])


def test_the_unet_draws_the_same_digits_at_any_batch_size_up_to_rounding():
    """With the real UNet the noise streams are the same as above; only kernel rounding differs (a stream taken
    from the wrong image would move the digits by O(1))."""
    unet, meta = tiny_class_model()
    gens = image_generators(2, 10)
    x_T = randn((10, 1, 28, 28), gens)
    whole = generate(unet, meta, x_T, image_generators(2, 10), list(range(10)), 3.0)
    for batch_size in (1, 7):
        parts = generate(unet, meta, x_T, image_generators(2, 10), list(range(10)), 3.0, batch_size=batch_size)
        torch.testing.assert_close(parts, whole, atol=1e-4, rtol=0)


def test_image_generators_are_seeded_by_set_and_index():
    first = torch.stack([torch.randn(3, generator=g) for g in image_generators(7, 4)])
    again = torch.stack([torch.randn(3, generator=g) for g in image_generators(7, 2, start=2)])
    assert torch.equal(first[2:], again)  # image i's stream does not depend on where the set starts
    other = torch.stack([torch.randn(3, generator=g) for g in image_generators(8, 4)])
    assert not torch.isclose(first, other).any()  # another seed: other streams
    assert len({tuple(r.tolist()) for r in first}) == 4  # no two images share a stream
    with pytest.raises(ValueError, match="seed=-1; allowed: an integer >= 0"):
        image_generators(-1, 2)


@needs_bf16
def test_bf16_sampling_stays_close_to_fp32():
    unet, meta = tiny_class_model()
    x_T = torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    fp32 = generate(unet, meta, x_T, torch.Generator().manual_seed(2), list(range(10)), 3.0)
    bf16 = generate(unet, meta, x_T, torch.Generator().manual_seed(2), list(range(10)), 3.0,
                    runtime=runtime.resolve("cpu", "bf16"))
    assert bf16.dtype == torch.float32
    assert not torch.equal(bf16, fp32)
    assert (bf16 - fp32).abs().mean() < 0.05 * fp32.abs().mean()


@pytest.mark.slow
def test_compiled_training_matches_eager_and_runs_the_partial_batch_eagerly(tmp_path, digits, monkeypatch):
    """compile=on (auto on CUDA): full batches through torch.compile, the last partial batch of each epoch through the
    eager module (no recompile for its shape); the losses are those of the eager loop up to kernel rounding."""
    import difflab.training.loop as train_module
    calls = {"compiled": 0}
    real_compile = torch.compile

    def counting_compile(model, **kwargs):
        compiled = real_compile(model, **kwargs)

        def run(*args):
            calls["compiled"] += 1
            return compiled(*args)
        return run
    monkeypatch.setattr(train_module.torch, "compile", counting_compile)
    cfg = TrainConfig(**{**CFG.__dict__, "batch_size": 40, "epochs": 2, "compile": "on"})  # 96 = 40 + 40 + 16
    eager = train(tmp_path / "eager", digits, TrainConfig(**{**cfg.__dict__, "compile": "off"}))
    assert calls["compiled"] == 0
    compiled = train(tmp_path / "compiled", digits, cfg)
    assert calls["compiled"] == 2 * 2  # two full batches per epoch; the partial one ran eagerly
    assert compiled.losses == pytest.approx(eager.losses, rel=1e-4)
