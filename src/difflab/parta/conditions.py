"""Prompt conditions, computed once by the embed_prompts stage and cached as an artefact.

DeepFloyd IF's conditions are T5 v1.1 XXL embeddings (77 x 4096 each); the MNIST model's are one-hot class
vectors (the zero vector for ""), a prompt naming a class of the dataset the model learned (data.dataset) by its
label or its name. Either way the experiment stages only look them up, each in its own file, so the text encoder is
loaded once, by one stage.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from pydantic import BaseModel
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from difflab.config.experiments import PART_A, Experiment
from difflab.config.schema import Experiments
from difflab.errors import PromptError, reading

CONDITIONS = Path("data/prompts")  # the embed_prompts stage's output: <experiment>.safetensors for each experiment


def save_conditions(path: Path, prompts: list[str], conds: torch.Tensor, model: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"cond_{i}": c.detach().cpu().contiguous() for i, c in enumerate(conds)}
    # one metadata key: safetensors writes several in a random order, and the file must be the same bytes every run
    save_file(tensors, path, metadata={"difflab": json.dumps({"model": model, "prompts": prompts}, sort_keys=True)})


class ConditionCache:
    """prompt -> condition, from the embed_prompts artefact."""

    def __init__(self, path: Path, model: str, device: torch.device | str = "cpu"):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no prompt conditions (run the embed_prompts stage first)")
        with reading(path, "prompt conditions file", (SafetensorError, json.JSONDecodeError, UnicodeDecodeError,
                                                      KeyError, TypeError), "embed_prompts"):
            with safe_open(str(path), framework="pt", device="cpu") as f:
                meta = json.loads(f.metadata()["difflab"])
                found, prompts = meta["model"], meta["prompts"]
                conds = {p: f.get_tensor(f"cond_{i}").to(device) for i, p in enumerate(prompts)}
        if found != model:
            raise PromptError(f"{path} holds conditions for {found!r}, not {model!r}: rerun embed_prompts")
        self.conds, self.path = conds, path

    def __call__(self, *prompts: str) -> torch.Tensor:
        """Conditions for the prompts, stacked into one batch."""
        missing = [p for p in prompts if p not in self.conds]
        if missing:
            raise PromptError(f"no cached condition for {missing!r} in {self.path}; prompts are collected from "
                              "params.yaml (parta.<model>.<experiment>) by the embed_prompts stage: add them there "
                              "and rerun it")
        return torch.stack([self.conds[p] for p in prompts])


def conditions_file(experiment: str) -> Path:
    """The embed_prompts stage's conditions of one experiment's prompts: one file per experiment, so that a changed
    prompt reruns only the experiments that look it up (an unchanged file is the same bytes)."""
    return CONDITIONS / f"{experiment}.safetensors"


def _plain(value):
    """A knob's value as YAML gives it (a section or a list of them as dicts)."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def prompts_in(section: Experiments, experiments: Iterable[Experiment] = PART_A) -> list[str]:
    """The prompts `experiments` of a parta.<model> section look up, sorted, with the null prompt "": the strings
    under each one's prompt keys (Experiment.prompts; inside an anagram or a factorized item, its prompts, not its
    views or kind). Reads only those keys, the ones embed_prompts declares."""
    found: set[str] = {""}

    def walk(node, is_prompt: bool) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, "prompt" in k)
        elif isinstance(node, list):
            for v in node:
                walk(v, is_prompt)
        elif isinstance(node, str) and is_prompt:
            found.add(node)
    for e in experiments:
        for key in e.prompts:
            walk(_plain(getattr(getattr(section, e.name), key)), True)
    return sorted(found)
