"""Reading params.yaml into the typed Params of schema.py, every knob checked before any work.

A stage reads only the keys dvc.yaml declares for it (`load(path, keys)`): each section it touches is checked
whole, then the stage receives that section with the declared keys alone, so code reading a knob the stage does
not declare fails (AttributeError) in the stage tests instead of making `dvc repro` dishonest. pydantic's
errors become one line: the key with its section, the value, what is allowed; for an unknown key, the nearest
known one.
"""

import argparse
import difflib
import functools
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError, create_model

from difflab.config.schema import CLASS_MODELS, DIFFUSION_MODELS, IF_TIMESTEPS, PARTA_MODELS, Params, Section
from difflab.errors import ParamError

__all__ = ["CLASS_MODELS", "DIFFUSION_MODELS", "ParamError", "Params", "check", "declared_params", "explain", "flatten", "load",
           "stage_params"]


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten(v, key + "."))
        else:
            flat[key] = v
    return flat


def _is_section(t) -> bool:
    return isinstance(t, type) and issubclass(t, Section)


@functools.cache
def _validator(key: str) -> type[Section]:
    """The validator of one top-level key of params.yaml (its section or a top-level knob): a model of that field
    of Params alone."""
    return create_model(f"Params_{key}", __base__=Section, **{key: (Params.model_fields[key].annotation,
                                                                    Params.model_fields[key])})


def _unknown(path: list[str], known: Iterable[str]) -> str:
    *section, key = path
    known = list(known)
    near = difflib.get_close_matches(str(key), known, n=1)
    where = ".".join(map(str, path))
    if near:
        return f"{where}: unknown key; did you mean {near[0]}?"
    return f"{where}: unknown key; allowed {'in ' + '.'.join(section) if section else 'at the top level'}: " \
           f"{', '.join(known)}"


def _allowed(msg: str) -> str:
    for prefix in ("Input should be ", "Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def explain(error: ValidationError, key: str, raw: dict) -> ParamError:
    """The first error of `error` (raised validating top-level key `key`) as one line naming the knob."""
    errors = error.errors()
    first = errors[0]
    path, cls, node, loc = [key], Params.model_fields[key].annotation, raw[key], list(first["loc"])[1:]
    while loc and _is_section(cls) and isinstance(loc[0], str) and loc[0] in cls.model_fields:
        part = loc.pop(0)
        path.append(part)
        cls, node = cls.model_fields[part].annotation, node.get(part) if isinstance(node, dict) else None
    where = ".".join(path)
    if first["type"] == "extra_forbidden" and _is_section(cls):
        return ParamError(_unknown([*path, loc[0]], cls.model_fields))
    if first["type"] == "missing":
        return ParamError(f"{where}.{loc[0]}: missing; the section {where} needs it" if loc else f"{where}: missing")
    if first["type"] == "literal_error" and len(loc) >= 2 and loc[1] == "[key]" and get_origin(cls) is dict:
        return ParamError(_unknown([*path, loc[0]], get_args(get_args(cls)[0])))
    if not _is_section(cls):  # a knob: every error under it says what it allows
        texts = [_allowed(e["msg"]) for e in errors if list(e["loc"][:len(path)]) == path]
        at = "".join(f"[{i}]" for i in loc if isinstance(i, int))
        return ParamError(f"{where}={node!r} is not allowed; allowed: {' or '.join(dict.fromkeys(texts))}"
                          + (f" (at {at})" if at else ""))
    if re.match(r"\w+=", _allowed(first["msg"])):  # a rule between the section's knobs, said of the one it refuses
        return ParamError(f"{where}.{_allowed(first['msg'])}")
    return ParamError(f"{where}={node!r} is not allowed; allowed: {_allowed(first['msg'])}")


def _validated(raw: dict, keys: Iterable[str]) -> dict[str, Any]:
    """Each top-level key of `keys` validated whole (a section with all its knobs)."""
    out = {}
    for key in keys:
        if key not in Params.model_fields:
            raise ParamError(_unknown([key], Params.model_fields))
        try:
            out[key] = getattr(_validator(key).model_validate({key: raw[key]}), key)
        except ValidationError as e:
            raise explain(e, key, raw) from None
    return out


def _between(p: dict[str, Any]) -> None:
    """The one rule between sections (those within a section are its schema's): part A's timesteps within its
    model's schedule, where the sections present say it (ddpm.num_timesteps; IF's T)."""
    if "parta" in p:
        T = {"mnist": p["ddpm"].num_timesteps if "ddpm" in p else None, "deepfloyd_if": IF_TIMESTEPS}
        for name in PARTA_MODELS:
            if T[name] is not None:
                check_schedule(name, getattr(p["parta"], name), T[name], strided=p["parta"].model == name)


def knob_at(cfg, *path: str):
    """cfg's knob at path, None where the section does not hold it (a stage's section holds the keys it reads)."""
    try:
        for part in path:
            cfg = getattr(cfg, part)
        return cfg
    except AttributeError:
        return None


def check_schedule(name: str, cfg, T: int, strided: bool = True) -> None:
    """The knobs of parta.<name> that index a DDPM's schedule of T timesteps, each a ParamError naming it:
    forward.timesteps (alpha_bar's), and where `strided` common.stride and the i_starts of iterative and sdedit
    (into the strided timesteps). A knob the section does not hold is not checked. The one check: on the whole
    params.yaml where T is known (ddpm.num_timesteps, IF_TIMESTEPS), and by part A's experiments on the model they
    run on (its own T: a part A stage does not read ddpm.num_timesteps)."""
    ts = knob_at(cfg, "forward", "timesteps")
    if ts is not None and not all(0 <= t < T for t in ts):
        raise ParamError(f"parta.{name}.forward.timesteps={ts} is not allowed; allowed: timesteps in 0 .. {T - 1} "
                         f"(T = {T})")
    stride = knob_at(cfg, "common", "stride")
    if not strided or stride is None:
        return
    if not stride < T:
        raise ParamError(f"parta.{name}.common.stride={stride} is not allowed; allowed: 1 .. {T - 1} (T = {T})")
    steps = len(range(stride * ((T - 1) // stride), -1, -stride))
    starts = [("iterative.i_start", knob_at(cfg, "iterative", "i_start")),
              *(("sdedit.i_start", i) for i in knob_at(cfg, "sdedit", "i_start") or [])]
    for key, i in starts:
        if i is not None and i >= steps:
            raise ParamError(f"parta.{name}.{key}={i} is not allowed; allowed: 0 .. {steps - 1} (the {steps} strided "
                             f"timesteps of T = {T} at stride {stride})")


def _restricted(model: BaseModel, keys: list[list[str]]) -> BaseModel:
    """`model` holding only the knobs `keys` name (each a path inside it; [] = all of it): reading any other is an
    AttributeError."""
    if any(not k for k in keys):
        return model
    fields = {}
    for part in dict.fromkeys(k[0] for k in keys):
        value = getattr(model, part)
        fields[part] = _restricted(value, [k[1:] for k in keys if k[0] == part]) if isinstance(value, Section) \
            else value
    return type(model).model_construct(_fields_set=set(fields), **fields)


def check(raw: dict) -> Params:
    """All of params.yaml (`raw`, as YAML gives it) checked: the first unknown key, missing key or value its
    schema does not allow is a ParamError naming it and what is allowed; then the rules between knobs."""
    if not isinstance(raw, dict):
        raise ParamError(f"params.yaml holds {type(raw).__name__}; allowed: a mapping of sections")
    missing = [k for k in Params.model_fields if k not in raw]
    validated = _validated(raw, raw)
    if missing:
        raise ParamError(f"params.yaml lacks {', '.join(missing)}")
    _between(validated)
    return Params.model_construct(**validated)


def load(path: str | Path = "params.yaml", keys: Iterable[str] | None = None) -> Params:
    """params.yaml checked whole (`keys` None) or as a stage reads it: only `keys` (top-level knobs, sections or
    dotted keys such as "flow_class.num_steps", as DVC resolves a stage's params), each section they touch checked
    whole, the rest of the file unread."""
    with open(path) as f:
        raw = yaml.safe_load(f)
    if keys is None:
        return check(raw)
    paths = [k.split(".") for k in keys]
    missing = [".".join(p) for p in paths if not _has(raw, p)]
    if missing:
        raise ParamError(f"{path} lacks {', '.join(missing)}")
    validated = _validated(raw, dict.fromkeys(p[0] for p in paths))
    _between(validated)
    return _restricted(Params.model_construct(_fields_set=set(validated), **validated), paths)


def _has(raw: dict, path: list[str]) -> bool:
    node = raw
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _dvc_yaml() -> Path:
    """The dvc.yaml DVC runs a stage from (the working directory's), else this checkout's (a stage run by hand)."""
    here = Path("dvc.yaml")
    return here if here.exists() else Path(__file__).resolve().parents[3] / "dvc.yaml"


def declared_params(parser: argparse.ArgumentParser, args: argparse.Namespace, argv0: str) -> tuple[str, list[str]]:
    """The stage of dvc.yaml that this command runs (the one whose cmd runs the same script with the same arguments,
    --params aside) and the params.yaml keys it declares, as DVC resolves them: YAML anchors, `vars` and every ${...}
    (parta.${parta.model} from the params file the stage reads)."""
    from dvc.fs import LocalFileSystem
    from dvc.parsing import DEFAULT_PARAMS_FILE, DataResolver

    params_file = Path(args.params).resolve()
    spec = yaml.safe_load(_dvc_yaml().read_text())
    if params_file.name != DEFAULT_PARAMS_FILE:
        spec["vars"] = [params_file.name, *spec.get("vars", [])]
    local = SimpleNamespace(fs=LocalFileSystem(), config={})  # what DVC's resolver asks of a repository
    stages = DataResolver(local, str(params_file.parent), spec).resolve()["stages"]
    wanted = {**vars(args), "params": None}
    for name, stage in stages.items():
        _, script, *argv = shlex.split(stage["cmd"])
        if Path(script).name == Path(argv0).name and {**vars(parser.parse_args(argv)), "params": None} == wanted:
            entries = [[e] if isinstance(e, str) else e[DEFAULT_PARAMS_FILE] for e in stage.get("params", [])]
            return name, list(dict.fromkeys(key for entry in entries for key in entry))
    raise ParamError(f"{_dvc_yaml()} has no stage running {Path(argv0).name} with these arguments")


def stage_params(description: str, argv: list[str] | None = None,
                 extra_args: Callable[[argparse.ArgumentParser], None] | None = None
                 ) -> tuple[Params, argparse.Namespace]:
    """The CLI every stage shares: --help says what the stage does, --params picks the file (default params.yaml).

    The stage receives the params its dvc.yaml entry declares and no other (reading another is an AttributeError);
    a bad value ends the stage with one line and exit status 2, before any work."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    if extra_args is not None:
        extra_args(parser)
    args = parser.parse_args(argv)
    try:
        _, keys = declared_params(parser, args, sys.argv[0])
        return load(args.params, keys), args
    except ParamError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
