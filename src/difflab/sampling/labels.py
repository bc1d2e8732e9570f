"""The conditions of part B's class-conditioned models: a prompt is a label "0".."9" or a class name of the
dataset the model learned, "" the null class; each becomes a one-hot vector (the zero vector for "")."""

from collections.abc import Sequence

import torch

from difflab.data.mnist import CLASSES
from difflab.errors import PromptError
from difflab.models.unet import NUM_CLASSES


def class_index(prompt: str, classes: Sequence[str] = CLASSES["mnist"]) -> int | None:
    """The label a prompt of the project's own model names: a class name of its dataset ("Trouser") or a label
    "0".."9"; None for "" (the null class)."""
    if prompt == "":
        return None
    if prompt in classes:
        return classes.index(prompt)
    if prompt in [str(d) for d in range(NUM_CLASSES)]:
        return int(prompt)
    raise PromptError(f"prompt {prompt!r}: the model understands the labels '0' .. '{NUM_CLASSES - 1}', its "
                      f"dataset's class names {list(classes)} and '' (no class)")


def one_hot_prompts(prompts: list[str], classes: Sequence[str] = CLASSES["mnist"]) -> torch.Tensor:
    """Conditions of the project's own model: a class (class_index) -> one-hot, "" -> zeros (the null class)."""
    c = torch.zeros(len(prompts), NUM_CLASSES)
    for i, p in enumerate(prompts):
        k = class_index(p, classes)
        if k is not None:
            c[i, k] = 1.0
    return c
