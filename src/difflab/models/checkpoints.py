"""Saving models and training state.

Models are stored as safetensors (a sorted JSON header and raw tensors: the same weights give the same bytes,
so DVC hashes are stable) with the UNet's config and the training epoch in the metadata; a file that is not one
(truncated, overwritten) is named with the way to restore it (errors.DamagedFile). Training state for resuming
goes through torch.save, always written to a temporary file and renamed, so a kill mid-write leaves the previous
complete checkpoint in place; a training stage discards it once its outputs are saved (it is scratch state for an
interrupted run, not an output DVC tracks). It is read back as data only (torch.load's weights_only: tensors,
numbers, strings, lists and dicts; a pickle that would call anything is refused, never run).
"""

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from difflab.errors import reading
from difflab.models.unet import UNet

# What a file that is not a model of ours raises: a damaged safetensors file, no or damaged difflab metadata
UNREADABLE = (SafetensorError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError)


class UnreadableState(Exception):
    """A resume file that cannot be read as training state (damaged, or not ours): discarded, never run."""


def save_model(path: Path, state_dict: dict, meta: dict) -> None:
    """Write weights plus metadata (hidden, conditioning, epoch, schedule, ...) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, tmp, metadata={"difflab": json.dumps(meta, sort_keys=True)})
    os.replace(tmp, path)


def _stage(path: Path) -> str | None:
    """The stage that writes models/<model>/*.safetensors: train_<model>."""
    return f"train_{path.parent.name}" if path.parent.parent.name == "models" else None


def read_meta(path: Path) -> dict:
    path = Path(path)
    with reading(path, "difflab model file", UNREADABLE, _stage(path)):
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()["difflab"])


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[UNet, dict]:
    """Rebuild the UNet described by the file's metadata, load its weights, and put it in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found (run the stage that trains it first)")
    meta = read_meta(path)
    # weights that are not this UNet's (another file under the name) fail load_state_dict with a RuntimeError
    with reading(path, "difflab model file", (*UNREADABLE, RuntimeError), _stage(path)):
        model = UNet(meta["hidden"], meta["conditioning"])
        model.load_state_dict(load_file(str(path)))
    return model.to(device).eval(), meta


def save_state(path: Path, state: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict | None:
    """The training state saved at `path` (None where there is none), read as data: torch's weights-only unpickler
    allows tensors and plain Python values (all the state holds, RNG states included) and refuses anything that
    would call code. UnreadableState where the file is anything else."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # whatever a damaged or foreign file raises: scratch state, so never fatal
        why = " ".join(str(e).split())
        raise UnreadableState(f"{path}: not readable as training state ({type(e).__name__}: {why[:160]})") from None


def discard_state(path: Path) -> None:
    """Remove a finished run's training state (and its folder, if that leaves it empty)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    if path.parent.is_dir() and not any(path.parent.iterdir()):
        path.parent.rmdir()
