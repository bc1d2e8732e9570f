"""Reading params.yaml, checking every knob before any work starts, seeding, and picking the device."""

import argparse
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

DEVICES = ("auto", "cpu", "cuda")
# The top-level knobs of how a stage runs (runtime.py): every training stage reads all of them.
RUNTIME = ("seed", "device", "precision", "channels_last", "compile", "log_every")
# ... and every sampling or evaluation stage these.
SAMPLING = ("seed", "device", "precision", "channels_last", "sample_batch_size")


class ParamError(ValueError):
    """A parameter has a value that is not allowed."""


def _int(lo: int | None = None, hi: int | None = None):
    def ok(v):
        return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)
    bounds = " and ".join(s for s in (f">= {lo}" if lo is not None else "", f"<= {hi}" if hi is not None else "") if s)
    return ok, f"an integer {bounds}".strip()


def _num(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def ok(v):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    return ok, f"a number in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def _list_of(rule):
    ok_item, text = rule
    return ((lambda v: isinstance(v, list) and len(v) > 0 and all(ok_item(x) for x in v)),
            f"a non-empty list, each {text}")


def _one_of(*choices):
    return (lambda v: v in choices), "one of " + ", ".join(map(str, choices))


def _odd(lo: int = 1):
    return (lambda v: _int(lo)[0](v) and v % 2 == 1), f"an odd integer >= {lo}"


def _text():
    return (lambda v: isinstance(v, str)), "a string"


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
FIXED_VARIANCES = ("fixed_small", "fixed_large")  # ddpm.py implements them; a test keeps the lists equal
VARIANCES = (*FIXED_VARIANCES, "learned_range")
VIEW_NAMES = (  # views.py implements them; a test keeps the two lists equal
    "identity", "flip", "rot90", "rot180", "rot270", "transpose", "negate", "jigsaw")
_INF = float("inf")
# Rules by key; "*" stands for any stage section. Keys without a rule are free-form (paths, URLs, names).
RULES = {
    "profile": _one_of("paper", "quick"),
    "seed": _int(0),
    "device": _one_of(*DEVICES),
    "precision": _one_of("auto", "fp32", "bf16", "fp16"),
    "channels_last": _one_of("auto", "on", "off"),
    "compile": _one_of("auto", "on", "off"),
    "log_every": _int(1),
    "sample_batch_size": _int(1),
    "*.train_limit": _int(0),
    "data.dataset": _one_of(*DATASETS),
    "data.sources": _list_of(_one_of("local", "torchvision", "npm", "debian")),
    "data.timeout_s": _num(0, _INF, lo_open=True),
    "*.hidden": _int(1),
    "*.epochs": _int(1),
    "*.batch_size": _int(1),
    "*.lr": _num(0, _INF, lo_open=True),
    "*.lr_final_factor": _num(0, 1, lo_open=True),
    "*.snapshot_epoch": _int(1),
    "*.snapshot_epochs": _list_of(_int(1)),
    "*.num_steps": _int(1),
    "*.ema_decay": _num(0, 1, hi_open=True),
    "*.num_samples": _int(1),
    "*.samples_per_class": _int(1),
    "*.test_limit": _int(0),
    "*.gif_every": _int(1),
    "denoiser.sigma": _num(0, 10, lo_open=True),
    "denoiser.sigmas": _list_of(_num(0, 10)),
    "denoiser.num_digits": _int(1, 64),
    "ddpm.num_timesteps": _int(2),
    "ddpm.beta_start": _num(0, 1, lo_open=True, hi_open=True),
    "ddpm.beta_end": _num(0, 1, lo_open=True, hi_open=True),
    "*.p_uncond": _num(0, 1),
    "*.guidance_scale": _num(0, _INF),
    "parta.model": _one_of("mnist", "deepfloyd_if"),
    # part A, for either model ("parta.*." stands for parta.mnist. and parta.deepfloyd_if.)
    "parta.*.common.stride": _int(1),
    "parta.*.common.guidance_scale": _num(0, _INF),
    "parta.*.common.sampler": _one_of("ddpm", "ddim"),
    "parta.*.common.ddim_eta": _num(0, 1),
    "parta.*.common.variance": _one_of(*VARIANCES),
    "parta.*.common.dtype": _one_of("float16", "bfloat16", "float32"),
    "parta.*.common.cpu_offload": _one_of(True, False),
    "parta.*.common.stage_2_steps": _int(1),
    "parta.*.common.stage_2_guidance_scale": _num(0, _INF),
    "parta.*.common.stage_2_noise_level": _int(0, 999),
    "parta.*.common.test_image": _text(),
    "parta.*.sample.prompts": _list_of(_text()),
    "parta.*.sample.num_inference_steps": _list_of(_int(1)),
    "parta.*.forward.timesteps": _list_of(_int(0)),
    "parta.*.blur.kernel_size": _odd(),
    "parta.*.blur.sigma": _num(0, _INF, lo_open=True),
    "parta.*.iterative.i_start": _int(0),
    "parta.*.iterative.show_every": _int(1),
    "parta.*.sdedit.i_start": _list_of(_int(0)),
    "parta.*.inpaint.masks": _masks(),
    "parta.*.anagram.anagrams": _anagrams(),
    "parta.*.factorized.items": _factorizations(),
    "parta.*.factorized.kernel_sizes": ((lambda v: _list_of(_odd())[0](v) and len(v) == 2), "two odd integers >= 1"),
    "parta.*.factorized.sigmas": ((lambda v: _list_of(_num(0, _INF, lo_open=True))[0](v) and len(v) == 2
                                   and v[0] > v[1]), "two numbers > 0, the first larger (the widest blur first)"),
    "parta.*.hybrid.pairs": _pairs(),
    "parta.*.hybrid.kernel_size": _odd(),
    "parta.*.hybrid.sigma": _num(0, _INF, lo_open=True),
    "parta.*.hybrid.view_downscale": _int(1),
    "parta.*.*.prompt": _text(),
    "parta.*.*.prompts": _list_of(_text()),
    "parta.*.*.images": _list_of(_text()),
    "objectives.num_steps": _list_of(_int(1)),
    "objectives.ddpm_variance": _one_of(*FIXED_VARIANCES),
    "samplers.num_steps": _list_of(_int(1)),
    "samplers.ddim_eta": _num(0, 1),
    "samplers.variances": ((lambda v: _list_of(_one_of(*FIXED_VARIANCES))[0](v) and len(set(v)) == len(v)),
                           "a non-empty list of different values, each one of " + ", ".join(FIXED_VARIANCES)),
    "eval.num_samples": _int(2),
    "eval.guidance_scales": _list_of(_num(0, _INF)),
    "eval.parta_seeds": _int(1),
}


def _rule_for(key: str):
    if key in RULES:
        return RULES[key]
    parts = key.split(".")
    if parts[0] == "parta" and len(parts) == 4:  # parta.<model>.<experiment>.<knob>
        return RULES.get(".".join(["parta", "*", *parts[2:]])) or RULES.get(f"parta.*.*.{parts[3]}")
    head, _, tail = key.partition(".")
    return RULES.get(f"*.{tail}") if tail and "." not in tail else None


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
    """Raise ParamError naming the first key whose value breaks its rule, and the values allowed."""
    flat = flatten(params)
    for key, value in flat.items():
        rule = _rule_for(key)
        if rule and not rule[0](value):
            raise ParamError(f"{key}={value!r} is not allowed; allowed: {rule[1]}")
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
    T = 1000 if name == "deepfloyd_if" else params.get("ddpm", {}).get("num_timesteps")
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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def resolve_device(device: str) -> torch.device:
    if device not in DEVICES:
        raise ParamError(f"device={device!r} is not allowed; allowed: {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParamError("device='cuda' but no CUDA device is visible; allowed here: auto, cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def stage_params(description: str, sections: tuple[str, ...] | Callable[[argparse.Namespace], tuple[str, ...]],
                 argv: list[str] | None = None,
                 extra_args: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[dict, argparse.Namespace]:
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
