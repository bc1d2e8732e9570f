"""Prompt conditions, computed once by the embed_prompts stage and cached as an artefact.

DeepFloyd IF's conditions are T5 v1.1 XXL embeddings (77 x 4096 each); the MNIST model's are one-hot class
vectors (the zero vector for ""), a prompt naming a class of the dataset the model learned (data.dataset) by its
label or its name. Either way the experiment stages only look them up, so the text encoder is
loaded once, by one stage.
"""

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from difflab.config.schema import Experiments
from difflab.errors import PromptError, reading


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
                              "params.yaml (parta.<model>) by the embed_prompts stage: add them there and rerun it")
        return torch.stack([self.conds[p] for p in prompts])


def prompts_in(section: Experiments) -> list[str]:
    """Every prompt named in a parta.<model> section: the values of keys containing 'prompt', and 'pairs' lists."""
    found: list[str] = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and ("prompt" in key or key == "pairs"):
            found.append(node)
    walk(section.model_dump())
    return sorted(set(found) | {""})
