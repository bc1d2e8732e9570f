import copy
import functools
import math
import re

import pytest
import yaml
from helpers import ROOT, run_stage

from difflab.config.params import ParamError, check, flatten, load
from difflab.config.runtime import resolve_device


@functools.cache
def committed_once() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def committed():
    """params.yaml as committed, as YAML gives it (read once; each caller gets a copy of its own to change)."""
    return copy.deepcopy(committed_once())


def with_value(key, value):
    params = committed()
    node = params
    *path, last = key.split(".")
    for part in path:
        node = node.setdefault(part, {})  # a misspelt section is a new one
    node[last] = value
    return params


def test_committed_params_are_the_spec():
    p = load(ROOT / "params.yaml")
    assert p.seed == 2718
    d = p.denoiser
    assert (d.sigma, d.batch_size, d.epochs, d.lr, d.hidden) == (0.5, 256, 5, 1e-4, 128)
    assert d.sigmas == [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]
    assert (p.ddpm.num_timesteps, p.ddpm.beta_start, p.ddpm.beta_end) == (300, 1e-4, 0.02)
    for s in (p.ddpm_time, p.ddpm_class):
        assert (s.batch_size, s.epochs, s.lr, s.lr_final_factor, s.hidden) == (128, 20, 1e-3, 0.1, 128)
    assert (p.ddpm_class.p_uncond, p.ddpm_class.guidance_scale) == (0.1, 3.0)
    # flow matching as the course's page states it (params.yaml names the source)
    for s in (p.flow_time, p.flow_class):
        assert (s.batch_size, s.epochs, s.lr, s.lr_final_factor, s.hidden, s.snapshot_epochs) == \
               (64, 10, 1e-2, 0.1, 64, [1, 5])
    assert (p.flow_time.num_steps, p.flow_class.num_steps) == (50, 300)
    assert (p.flow_class.p_uncond, p.flow_class.guidance_scale) == (0.1, 5.0)
    assert (p.pure_noise.hidden, p.pure_noise.batch_size, p.pure_noise.epochs, p.pure_noise.lr) == (128, 256, 5, 1e-4)


@pytest.mark.parametrize("key, value, allowed", [
    ("denoiser.epochs", -1, "greater than or equal to 1"),
    ("ddpm_time.epochs", 0, "greater than or equal to 1"),
    ("denoiser.sigma", 0.0, "greater than 0"),
    ("denoiser.sigma", 10.5, "less than or equal to 10"),
    ("device", "tpu", "'auto', 'cpu' or 'cuda'"),
    ("threads", 0, "'auto' or greater than or equal to 1"),
    ("threads", "4", "'auto' or a valid integer"),
    ("seed", True, "a valid integer"),
    ("ddpm.num_timesteps", 1, "greater than or equal to 2"),
    ("ddpm.beta_start", 0.0, "greater than 0"),
    ("ddpm.beta_end", 1.0, "less than 1"),
    ("ddpm_class.guidance_scale", -1, "greater than or equal to 0"),
    ("ddpm_class.p_uncond", 1.5, "less than or equal to 1"),
    ("denoiser.lr", "fast", "a valid number"),
    ("denoiser.lr", "1e-3", "a valid number"),  # YAML's 1e-3 (no dot) is a string: not taken as a number
    ("ddpm_time.batch_size", 2.5, "a valid integer"),
    ("profile", "fast", "'paper' or 'quick'"),
    # part A, either model
    ("parta.mnist.common.stride", 0, "greater than or equal to 1"),
    ("parta.deepfloyd_if.common.guidance_scale", -2.0, "greater than or equal to 0"),
    ("parta.deepfloyd_if.common.dtype", "fp8", "'float16', 'bfloat16' or 'float32'"),
    ("parta.deepfloyd_if.common.stage_2_noise_level", 1000, "less than or equal to 999"),
    ("parta.deepfloyd_if.common.cpu_offload", 1, "a valid boolean"),
    ("parta.mnist.sample.num_inference_steps", [20, 0], "greater than or equal to 1 (at [1])"),
    ("parta.mnist.sample.num_inference_steps", [], "List should have at least 1 item"),
    ("parta.mnist.blur.kernel_size", 4, "an odd integer"),
    ("parta.deepfloyd_if.hybrid.kernel_size", 32, "an odd integer"),
    ("parta.mnist.hybrid.sigma", 0, "greater than 0"),
    ("parta.mnist.iterative.show_every", 0, "greater than or equal to 1"),
    ("parta.mnist.sdedit.i_start", [1, -3], "greater than or equal to 0 (at [1])"),
    ("parta.mnist.inpaint.masks", [[0.5, 0.2, 0.0, 1.0]], "[top, bottom, left, right] fractions with top < bottom"),
    ("parta.mnist.inpaint.masks", [[0.0, 0.5, 0.0, 1.5]], "less than or equal to 1"),
    ("parta.deepfloyd_if.hybrid.pairs", [["a cat"]], "at least 2 items"),
    ("parta.mnist.anagram.anagrams", [{"views": ["identity", "rot45"], "prompts": ["1", "2"]}],
     "'identity', 'flip', 'rot90', 'rot180', 'rot270', 'transpose', 'negate' or 'jigsaw'"),
    ("parta.mnist.anagram.anagrams", [{"views": ["identity", "flip"], "prompts": ["1"]}], "one prompt per view"),
    ("parta.deepfloyd_if.anagram.anagrams", [{"views": ["flip", "flip"], "prompts": ["a", "b"]}], "2 or 3 different"),
    ("parta.mnist.factorized.items", [{"kind": "bands", "prompts": ["1", "2"]}], "kind bands with 3 prompts"),
    ("parta.mnist.factorized.items", [{"kind": "hue", "prompts": ["1", "2"]}], "'bands' or 'color'"),
    ("parta.mnist.factorized.sigmas", [0.5, 2.0], "the first larger (the widest blur first)"),
    ("parta.mnist.factorized.kernel_sizes", [9], "at least 2 items"),
    ("parta.mnist.common.sampler", "euler", "'ddpm' or 'ddim'"),
    ("parta.deepfloyd_if.common.ddim_eta", 2.0, "less than or equal to 1"),
    ("samplers.num_steps", [10, 0], "greater than or equal to 1 (at [1])"),
    ("samplers.ddim_eta", -1, "greater than or equal to 0"),
    ("parta.mnist.common.variance", "small", "'fixed_small', 'fixed_large' or 'learned_range'"),
    ("objectives.ddpm_variance", "learned_range", "'fixed_small' or 'fixed_large'"),
    ("samplers.variances", ["fixed_small", "fixed_small"], "different values"),
    ("parta.deepfloyd_if.common.variant", 16, "a valid string"),
    ("parta.mnist.cfg.prompts", ["1", 2], "a valid string (at [1])"),
    ("parta.mnist.one_step.prompt", 7, "a valid string"),
    ("data.mnist.sha256", {"train-images-idx3-ubyte": "ABC"}, "should match pattern"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(ParamError) as err:
        check(with_value(key, value))
    assert str(err.value).startswith(f"{key}={value!r} is not allowed; allowed: ") and allowed in str(err.value)


def number_leaves(value, at=()):
    """The places of the numbers (not booleans) in a knob's value: () for a number, (i,) or (i, j) inside lists."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield at
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from number_leaves(item, (*at, i))


def replaced(value, at, new):
    if not at:
        return new
    return [replaced(item, at[1:], new) if i == at[0] else item for i, item in enumerate(value)]


def test_every_float_knob_refuses_infinity_and_nan():
    """Every number of params.yaml that may be a float (its rule takes the committed value as a float: lr, sigmas,
    guidance scales, mask fractions, ...) refuses inf, -inf and NaN, naming the key: `guidance_scale: .inf` once ran
    a sampling stage to the end. An integer knob refuses them too, as not an integer."""
    floats = set()
    for key, value in flatten(committed()).items():
        for at in number_leaves(value):
            if accepted(with_value(key, replaced(value, at, float(pick(value, at))))):
                floats.add(key)
            for bad in (math.inf, -math.inf, math.nan):
                with pytest.raises(ParamError, match=re.escape(f"{key}=")):
                    check(with_value(key, replaced(value, at, bad)))
    # the sweep reached float knobs of every shape: a section's number, a list, part A's, a list of lists
    assert {"denoiser.lr", "ddpm_class.guidance_scale", "denoiser.sigmas", "eval.guidance_scales", "data.timeout_s",
            "parta.mnist.factorized.sigmas", "parta.deepfloyd_if.inpaint.masks", "ddpm.beta_end"} <= floats


def pick(value, at):
    for i in at:
        value = value[i]
    return value


def accepted(params) -> bool:
    try:
        check(params)
    except ParamError:
        return False
    return True


def test_part_a_steps_against_the_strided_schedule():
    """i_start indexes the strided timesteps: 34 of them for T = 300 at stride 9, 34 for IF's 1000 at 30."""
    with pytest.raises(ParamError, match=r"parta.mnist.sdedit.i_start=34 .* 0 .. 33 \(the 34 strided timesteps of "
                                         r"T = 300 at stride 9\)"):
        check(with_value("parta.mnist.sdedit.i_start", [1, 34]))
    with pytest.raises(ParamError, match=r"parta.mnist.common.stride=300 .* 1 .. 299"):
        check(with_value("parta.mnist.common.stride", 300))
    deepfloyd = with_value("parta.model", "deepfloyd_if")
    deepfloyd["parta"]["deepfloyd_if"]["iterative"]["i_start"] = 34
    with pytest.raises(ParamError, match=r"parta.deepfloyd_if.iterative.i_start=34 .* T = 1000 at stride 30"):
        check(deepfloyd)
    check(with_value("parta.mnist.sdedit.i_start", [0, 33]))  # the last strided step is allowed


def test_cross_field_rules():
    with pytest.raises(ParamError, match=r"ddpm_time.snapshot_epoch=30 is not allowed; allowed: 1 .. epochs \(20\)"):
        check(with_value("ddpm_time.snapshot_epoch", 30))
    with pytest.raises(ParamError, match="ddpm.beta_start=0.5"):
        check(with_value("ddpm.beta_start", 0.5))
    with pytest.raises(ParamError, match=r"parta.mnist_flow.common.step=0.03 is not allowed; allowed: 1 / n for a "
                                         r"whole number n of Euler steps \(0.02 = 50 steps\)"):
        check(with_value("parta.mnist_flow.common.step", 0.03))
    with pytest.raises(ParamError,
                       match=r"flow_class.snapshot_epochs=\[1, 12\] is not allowed; allowed: 1 .. epochs \(10\)"):
        check(with_value("flow_class.snapshot_epochs", [1, 12]))
    for key, value, allowed in [("flow_time.num_steps", 0, "greater than or equal to 1"),
                                ("objectives.num_steps", [5, 0], r"greater than or equal to 1 \(at \[1\]\)"),
                                ("flow_class.snapshot_epochs", [], "List should have at least 1 item"),
                                ("flow_class.p_uncond", 1.5, "less than or equal to 1")]:
        with pytest.raises(ParamError, match=f"{key}=.* is not allowed; allowed: {allowed}"):
            check(with_value(key, value))


def test_a_stage_reads_single_keys_of_a_section(tmp_path):
    """A stage receives the knobs it declares and no other: code reading one it does not declare fails, so the
    stage tests catch a dvc.yaml entry that would not rerun the stage when that knob changes."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(committed()))
    got = load(tmp_path / "params.yaml", ("seed", "flow_class.num_steps", "flow_class.guidance_scale"))
    assert (got.seed, got.flow_class.num_steps, got.flow_class.guidance_scale) == (2718, 300, 5.0)
    assert got.model_dump(exclude_unset=True) == {"seed": 2718, "flow_class": {"num_steps": 300, "guidance_scale": 5.0}}
    with pytest.raises(AttributeError, match="epochs"):
        got.flow_class.epochs
    with pytest.raises(AttributeError, match="device"):
        got.device
    with pytest.raises(AttributeError, match="ddpm_class"):
        got.ddpm_class
    whole = load(tmp_path / "params.yaml", ("parta.model", "parta.mnist.common"))
    assert whole.parta.mnist.common.stride == 9
    with pytest.raises(AttributeError, match="sdedit"):
        whole.parta.mnist.sdedit
    with pytest.raises(ParamError, match="lacks flow_class.steps"):
        load(tmp_path / "params.yaml", ("flow_class.steps",))


def test_cuda_request_without_cuda_is_refused():
    import torch
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ParamError, match="device='cuda'"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"


def test_stage_refuses_bad_params_before_any_work(tmp_path):
    bad = with_value("denoiser.epochs", -3)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    out = run_stage(["train_denoiser.py", "--params", "params.yaml"], tmp_path)
    assert out.returncode == 2
    assert "denoiser.epochs=-3 is not allowed; allowed: greater than or equal to 1" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


def test_missing_data_file_is_named(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(committed()))
    out = run_stage(["train_diffusion.py", "ddpm_time", "--params", "params.yaml"], tmp_path)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr[-2000:]
    assert out.stderr == ("train_diffusion: data/dataset/train-images-idx3-ubyte: not a readable mnist file (missing); "
                          "restore it: dvc checkout --force data/dataset, or dvc repro download_mnist\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize("key, message", [
    ("ddpm_time.ema_decy", "ddpm_time.ema_decy: unknown key; did you mean ema_decay?"),
    ("ddpm_class.p_uncnd", "ddpm_class.p_uncnd: unknown key; did you mean p_uncond?"),
    ("parta.mnist.anagram.anagrms", "parta.mnist.anagram.anagrms: unknown key; did you mean anagrams?"),
    ("parta.deepfloyd_if.inpaint.mask", "parta.deepfloyd_if.inpaint.mask: unknown key; did you mean masks?"),
    ("parta.mnist.inpant.prompt", "parta.mnist.inpant: unknown key; did you mean inpaint?"),
    ("data.mnist.mirror", "data.mnist.mirror: unknown key; did you mean mirrors?"),
    ("data.fashion_mnist.sha256.train-image-idx3-ubyte", "did you mean train-images-idx3-ubyte?"),
    ("data.mnsit.mirrors", "data.mnsit: unknown key; did you mean mnist?"),
    ("ddpm_tme.epochs", "ddpm_tme: unknown key; did you mean ddpm_time?"),
])
def test_an_unknown_key_is_named_with_its_section_and_the_nearest_known_one(key, message):
    with pytest.raises(ParamError) as err:
        check(with_value(key, 0.9))
    assert message in str(err.value)


@pytest.mark.parametrize("key", [
    "ood.epochs",  # a knob of another section: the evaluation has no training epochs
    "judge.ema_decay",  # the judge keeps no EMA
    "denoiser.lr_final_factor",  # the denoiser's lr is constant (SPEC B1)
    "parta.mnist.anagram.prompt",  # anagrams take one prompt per view, in anagrams
    "parta.mnist.common.prompt",
])
def test_a_known_knob_in_a_section_that_does_not_read_it_is_refused(key):
    section, _, name = key.rpartition(".")
    with pytest.raises(ParamError, match=rf"^{section}\.{name}: unknown key; "):
        check(with_value(key, 0.5))


def test_a_stage_refuses_an_unknown_key_of_a_section_it_reads(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_value("ddpm_time.ema_decy", 0.9)))
    with pytest.raises(ParamError, match="ddpm_time.ema_decy: unknown key; did you mean ema_decay"):
        load(tmp_path / "params.yaml", ("seed", "ddpm_time"))
    load(tmp_path / "params.yaml", ("seed", "ddpm_class"))  # a stage need not check what it does not read
    out = run_stage(["train_diffusion.py", "ddpm_time", "--params", "params.yaml"], tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "train_diffusion.py: error: ddpm_time.ema_decy: unknown key; did you mean ema_decay?"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


def test_forward_timesteps_lie_in_the_models_schedule():
    """forward.timesteps index alpha_bar: 0 .. T - 1 (T = ddpm.num_timesteps on the MNIST model, 1000 on IF)."""
    with pytest.raises(ParamError, match=r"parta.mnist.forward.timesteps=\[75, 300\] is not allowed; allowed: "
                                         r"timesteps in 0 .. 299 \(T = 300\)"):
        check(with_value("parta.mnist.forward.timesteps", [75, 300]))
    with pytest.raises(ParamError, match=r"parta.deepfloyd_if.forward.timesteps=\[1000\] .* 0 .. 999 \(T = 1000\)"):
        check(with_value("parta.deepfloyd_if.forward.timesteps", [1000]))
    check(with_value("parta.mnist.forward.timesteps", [0, 299]))
    check(with_value("parta.deepfloyd_if.forward.timesteps", [0, 999]))
    smaller = with_value("ddpm.num_timesteps", 200)
    with pytest.raises(ParamError, match=r"forward.timesteps=\[75, 150, 225\] .* 0 .. 199 \(T = 200\)"):
        check(smaller)


@pytest.mark.parametrize("model", ["mnist", "deepfloyd_if"])
def test_inpainting_needs_one_mask_per_image(model):
    """inpaint pairs the masks with the test image, then each of inpaint.images, in order: a mask short drops an
    image without a word, a mask more is never used."""
    masks = committed()["parta"][model]["inpaint"]["masks"]
    assert len(masks) == 3  # the test image and the two images of the spec
    for wrong in (masks[:2], masks[:1], masks + [masks[0]]):
        with pytest.raises(ParamError, match=rf"parta.{model}.inpaint.masks=.* is not allowed; allowed: 3 masks, "
                                             r"one per image: the test image \(common.test_image\), then each of "
                                             r"images \(2\)"):
            check(with_value(f"parta.{model}.inpaint.masks", wrong))
    images = committed()["parta"][model]["inpaint"]["images"]
    fewer = with_value(f"parta.{model}.inpaint.images", images[:1])
    fewer["parta"][model]["inpaint"]["masks"] = masks[:2]
    check(fewer)


def test_local_if_weights_without_a_variant_or_an_upsampler_are_accepted():
    """variant null (a local copy of IF without fp16 files) and stage_2 null (no upsampler) are real settings."""
    check(with_value("parta.deepfloyd_if.common.variant", None))
    check(with_value("parta.deepfloyd_if.common.stage_2", None))


def test_the_committed_params_are_accepted_whole_and_by_section():
    check(committed())
    for section in committed():
        load(ROOT / "params.yaml", (section,))


def test_the_schema_has_a_section_for_each_dataset_and_part_a_model_the_code_implements():
    """data.<dataset> and parta.<model> are sections of the schema, one per name the code implements (the names
    of data.dataset and parta.model are imported from that code)."""
    from typing import get_args

    from difflab.config.parta_models import PART_A_MODELS
    from difflab.config.schema import PARTA_MODELS, Data, PartA
    from difflab.data.mnist import DATASETS

    assert set(Data.model_fields) - {"dataset", "dir", "sources", "local_dir", "timeout_s"} == set(DATASETS)
    assert set(PartA.model_fields) - {"model"} == set(PART_A_MODELS) == {*PARTA_MODELS, "mnist_flow"}
    assert get_args(Data.model_fields["dataset"].annotation) == DATASETS
    # parta.model names the model of the parta@ stages; the flow model's part A has stages of its own (parta_flow@)
    assert get_args(PartA.model_fields["model"].annotation) == PARTA_MODELS == ("mnist", "deepfloyd_if")


@pytest.mark.parametrize("name", ["params.yaml", "dvc.yaml"])
def test_the_file_reads_the_same_with_either_of_dvcs_yaml_parsers(name):
    """DVC reads YAML with ruamel's C parser (libyaml, YAML 1.1) where ruamel.yaml.clib is installed (requirements.txt
    installs it: DVC is faster with it) and with ruamel's pure-Python one (YAML 1.2) where not. The project's files
    must read the same with both: libyaml refuses a colon inside an unquoted flow item (`[mnist-test:1]`)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.main import CParser

    assert CParser is not None, "ruamel.yaml.clib is not installed (requirements.txt)"
    text = (ROOT / name).read_text()
    assert YAML(typ="safe").load(text) == YAML(typ="safe", pure=True).load(text)
