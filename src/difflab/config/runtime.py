"""How a stage runs on its device: which device, which precision, which memory format, compiled or eager.

    precision: auto | fp32 | bf16 | fp16
        auto = bf16 autocast where the device computes bf16 natively (a CUDA GPU with bf16; a CPU with AVX512-BF16
        or AMX whose oneDNN supports bf16), fp32 elsewhere. fp16 only on CUDA (with a gradient scaler).
        Autocast only: master weights, optimiser state and saved models stay fp32.
    channels_last: auto | on | off
        auto = on under reduced precision: on CUDA; on a CPU with AMX for convolutions at least 32 channels wide
        (measured there: bf16 training 1.6-1.7x faster at D = 64 / 128, even at D = 32, slower at D = 16); on a CPU
        with AVX512-BF16 but no AMX at every width (measured: even at D = 16 / batch 128, 1.35x faster at D = 16 /
        batch 64). In fp32 it does not help.
    compile: auto | on | off
        auto = on for CUDA (torch.compile with CUDA graphs), off on the CPU.
    threads: auto | N
        the CPU threads of torch in the stage (use_threads); auto = torch's default, one per core.
"""

import random
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from difflab.errors import ParamError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SWITCHES = ("auto", "on", "off")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def resolve_device(device: str) -> torch.device:
    """The device `device` (one of DEVICES: the schema's rule) names; a ParamError where it is not here."""
    assert device in DEVICES, device
    if device == "cuda" and not torch.cuda.is_available():
        raise ParamError("device='cuda' but no CUDA device is visible; allowed here: auto, cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def use_threads(threads: str | int) -> None:
    """The stage's CPU thread count (params' `threads`): auto leaves torch's default (one per core), N pins it.
    A convolution's sums are split by thread on a CPU, so its results differ in the last bits between thread
    counts: a seeded run is byte-identical to another only at the same count, which is why it is a param."""
    if threads != "auto":
        torch.set_num_threads(threads)


def bf16_capability(device: torch.device) -> tuple[bool, bool]:
    """(computes bf16 at all, computes it natively) on this device."""
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return native, native
    supported = torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    capabilities = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    native = supported and bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))
    return supported, native


def cpu_has_amx() -> bool:
    capabilities = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(capabilities.get("amx_bf16"))


def allowed_precisions(device: torch.device) -> list[str]:
    supported, _ = bf16_capability(device)
    return ["auto", "fp32"] + (["bf16"] if supported else []) + (["fp16"] if device.type == "cuda" else [])


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision a stage runs in (one of PRECISIONS: the schema's rule); a clear error where this device cannot
    compute the one asked for."""
    assert precision in PRECISIONS, precision
    allowed = allowed_precisions(device)
    if precision not in allowed:
        raise ParamError(f"precision={precision!r} is not available on this device ({describe(device)}); "
                         f"allowed here: {', '.join(allowed)}")
    if precision == "auto":
        return "bf16" if bf16_capability(device)[1] else "fp32"
    return precision


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA, {torch.cuda.get_device_name(device)}"
    return f"CPU, {torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}"


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str  # fp32 | bf16 | fp16, resolved
    channels_last: str = "auto"  # auto | on | off
    compile: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    def autocast(self):
        """Model calls under this context compute in the reduced precision (a no-op in fp32)."""
        if self.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def use_channels_last(self, width: int) -> bool:
        if self.channels_last != "auto":
            return self.channels_last == "on"
        if self.precision == "fp32":
            return False
        return self.device.type == "cuda" or width >= 32 or not cpu_has_amx()

    def prepare(self, model: nn.Module, width: int | None = None) -> nn.Module:
        """Move the model to the device in the memory format that is fastest for it (width = its narrowest
        convolution; by default the model's `hidden`)."""
        width = getattr(model, "hidden", 0) if width is None else width
        model = model.to(self.device)
        if self.use_channels_last(width):
            model = model.to(memory_format=torch.channels_last)
        return model

    def summary(self, width: int | None = None) -> str:
        """What runs where; with a model's width, whether channels-last is used for it."""
        layout = self.channels_last if width is None else ("on" if self.use_channels_last(width) else "off")
        return (f"{describe(self.device)}; precision {self.precision}; channels_last {layout}; "
                f"compile {'on' if self.compile else 'off'}")


def resolve(device: str = "auto", precision: str = "auto", channels_last: str = "auto",
            compile: str = "auto") -> Runtime:
    """The runtime of values the schema allows (its sections' rules); one this device cannot honour is a
    ParamError, before any work."""
    assert channels_last in SWITCHES and compile in SWITCHES, (channels_last, compile)
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    return Runtime(dev, prec, channels_last, compile == "on" or (compile == "auto" and dev.type == "cuda"))


def from_params(params) -> Runtime:
    """The runtime of a stage from its top-level params (device, precision, channels_last, compile). compile is a
    training knob (dvc.yaml's runtime list): a stage that does not read it (sampling, evaluation) never compiles, so it runs eager rather than under a default that no params.yaml value could change."""
    return resolve(params.device, params.precision, params.channels_last,
                   params.compile if "compile" in params.model_fields_set else "off")


def for_stage(params) -> Runtime:
    """from_params for a stage script, before any work: a value this device cannot honour ends the stage with
    exit status 2 and a message naming what is allowed here. Also sets the stage's thread count (use_threads)."""
    use_threads(params.threads)
    try:
        return from_params(params)
    except ParamError as e:
        print(f"{Path(sys.argv[0]).name}: error: {e}", file=sys.stderr)
        sys.exit(2)
