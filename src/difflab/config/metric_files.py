"""The metric files the stages write, as pydantic models: one per file, used by the stage that writes it and by
every reader, so that a key renamed on one side fails in the tests of the writer, not in a reader at run time.

A model is its file's JSON exactly. `text()` is the file's bytes (json.dumps with indent 2 and sorted keys, as DVC
shows metrics; the headline and the judge's keep their writer's order). Every model refuses a key it does not
declare and requires each key its writer writes. A family of entries that the file holds flat, one key each
(cfg_3.0, steps_5, velocity_t_0p02), is one dict field keyed by the number (`Flat`): a reader asks m.cfg[3.0],
never builds "cfg_3.0". `read` names a file that is damaged or not of its model's shape, with the stage that makes
it (errors.DamagedFile). FILES says which model reads which file.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_serializer, model_validator

from difflab.core.ddpm import FIXED_VARIANCES
from difflab.errors import damaged, read_json


@dataclass(frozen=True)
class Flat:
    """Marks a dict field that the file holds flat: each entry under `prefix` + its key, the key written by `name`
    and read back by the dict's key type (cfg_3.0 <-> cfg[3.0])."""
    prefix: str
    name: Callable[[Any], str] = str


def _dotless(t: float) -> str:
    """A time in a key, without its dot (dvc metrics show nests keys at dots): 0.02 -> 0p02."""
    return f"{t:g}".replace(".", "p")


Time = Annotated[float, BeforeValidator(lambda k: k.replace("p", ".") if isinstance(k, str) else k)]  # read from 0p02


class Shape(BaseModel):
    """A JSON object of a metric file: the keys of its fields and no other, each Flat field spread over its entries'
    own keys."""
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def _flat(cls) -> dict[str, Flat]:
        return {name: m for name, info in cls.model_fields.items() for m in info.metadata if isinstance(m, Flat)}

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:  # the file's flat keys into their Flat fields
        if isinstance(data, dict):
            data = dict(data)
            for field, flat in cls._flat().items():
                keys = [k for k in data if k.startswith(flat.prefix) and k not in cls.model_fields]
                if keys:
                    data[field] = {k.removeprefix(flat.prefix): data.pop(k) for k in keys}
        return data

    @model_serializer(mode="wrap")
    def _spread(self, handler) -> dict:  # and back
        data = handler(self)
        for field, flat in self._flat().items():
            data.update({flat.prefix + flat.name(k): v for k, v in data.pop(field).items()})
        return data


class MetricFile(Shape):
    """A whole metric file."""
    sort_keys: ClassVar[bool] = True  # False: the writer's order

    def text(self) -> str:
        """The file's bytes."""
        return json.dumps(self.model_dump(), indent=2, sort_keys=self.sort_keys) + "\n"

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.text())

    @classmethod
    def read(cls, path: str | Path, stage: str | None = None, restore: str | None = None,
             text: str | None = None) -> Self:
        """The file at `path` (or its `text`, where it was read elsewhere: another run's, through DVC); DamagedFile
        naming it and the way to restore it (by default rerunning `stage`, else the stage dvc.lock names) where it
        is not JSON or not of this model's shape."""
        data = read_json(path, stage=stage, restore=restore, text=text)
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            wrong = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise damaged(path, "metric file", f"not a {cls.__name__}: {wrong}", stage, False, restore) from None


# -- the generative models' sample quality (evaluation/sample_quality.judge_samples) -------------------------------

class Judged(Shape):
    """The judge on a sample set of the digits 0-9 in turn: the Frechet distance of its features to the test set's,
    and the fraction judged as the digit asked for."""
    fd_to_test: float
    judge_accuracy: float


class JudgedWithInterval(Judged):
    fd_to_test_lo: float  # the distance's 95 % interval (a bootstrap)
    fd_to_test_hi: float


class Eval(MetricFile):
    """reports/<model>/eval.json (stage eval_<model>, evaluation/generative.judge_model): what every model's holds,
    the floor (real training digits to the test set) with its interval."""
    num_samples: int
    bootstrap_resamples: int
    fd_floor_train_vs_test: float
    fd_floor_train_vs_test_lo: float
    fd_floor_train_vs_test_hi: float


class TimeEval(Eval):
    """eval.json of a time-conditioned model (ddpm_time, flow_time): its samples' distance."""
    fd_to_test: float
    fd_to_test_lo: float
    fd_to_test_hi: float


class ClassEval(Eval):
    """eval.json of a class-conditioned model (ddpm_class, flow_class): the judge at each CFG scale."""
    cfg: Annotated[dict[float, JudgedWithInterval], Flat("cfg_")]


class Column(Shape):
    """One line of a comparison by sampling steps: the judge at each step count."""
    steps: Annotated[dict[int, Judged], Flat("steps_")]


class EpochColumn(Column):
    epoch: int  # of the weights judged


class Objectives(MetricFile):
    """reports/objectives/metrics.json (stage compare_objectives, evaluation/comparisons.compare_objectives): each
    class model after its last epoch and both at the latest epoch they share."""
    fd_floor_train_vs_test: float
    num_samples: int
    ddpm_final: EpochColumn
    flow_final: EpochColumn
    ddpm_equal_epochs: EpochColumn
    flow_equal_epochs: EpochColumn


class Samplers(MetricFile):
    """reports/samplers/metrics.json (stage compare_samplers, evaluation/comparisons.compare_samplers): the class
    DDPM sampled by DDIM and by the DDPM step, the latter once per noise variance (samplers.variances)."""
    fd_floor_train_vs_test: float
    num_samples: int
    ddim_eta: float
    ddim: Column
    ddpm: Annotated[dict[Literal[FIXED_VARIANCES], Column], Flat("")]  # each under its variance's name


# -- the single-step denoisers (evaluation/denoisers.py) ------------------------------------------------------------

class Denoised(Shape):
    """The denoiser on n test digits noised at one sigma (training/denoiser.evaluate), beside the noisy input; a
    PSNR is None where there is no error at all."""
    mse: float
    psnr_db: float | None
    psnr_db_lo: float | None  # its 95 % interval
    psnr_db_hi: float | None
    n: int
    noisy_mse: float
    noisy_psnr_db: float | None


class Ood(MetricFile):
    """reports/denoiser/ood.json (stage eval_ood, evaluation/denoisers.out_of_distribution): at each sigma."""
    sigma: Annotated[dict[float, Denoised], Flat("sigma_")]


class PureNoise(MetricFile):
    """reports/pure_noise/metrics.json (stage pure_noise_figures, evaluation/denoisers.pure_noise_outputs): how far
    the outputs lie from the mean training digit and from each other, RMS per pixel."""
    rms_output_to_mean_digit: float
    rms_between_outputs: float
    rms_digit_to_mean_digit: float  # a real digit, for scale
    earlier: Annotated[dict[int, float], Flat("rms_output_to_mean_digit_epoch")]  # after pure_noise.snapshot_epoch


class JudgeTest(MetricFile):
    """reports/judge/metrics.json (stage train_judge): the judge's accuracy on the n test digits."""
    sort_keys: ClassVar[bool] = False
    test_accuracy: float
    n: int


class Seconds(Shape):
    model_config = ConfigDict(extra="ignore")
    seconds: float | None = None  # None: trained before training times were logged


class TrainLog(MetricFile):
    """reports/<model>/train/metrics.json, DVCLive's summary of a training (training/loop.py): the one number read
    of it, train/seconds (its other keys are DVCLive's)."""
    model_config = ConfigDict(extra="ignore")
    train: Seconds


# -- part A on the MNIST models (evaluation/parta.py) ---------------------------------------------------------------

class AnagramRates(Shape):
    success: float  # every view judged as its digit
    ok: Annotated[dict[str, float], Flat("ok_")]  # each view alone
    pairs: Annotated[dict[str, float], Flat("success_")] = {}  # with three views, each pair (<view>_<view>)


class HybridRates(Shape):
    success: float
    far_ok: float
    near_ok: float


class BandRates(Shape):
    success: float
    low_ok: float
    mid_ok: float
    high_ok: float


class Inpainted(Shape):
    label_kept: float
    mask: str


class Kept(Shape):
    label_kept: float


class UpdateError(Shape):
    rms_error: float  # mean over the test digits


class PartA(MetricFile):
    """reports/eval_parta/metrics.json (stage eval_parta, evaluation/parta.measure): part A on the class DDPM,
    judged over `seeds` samples per item; SDEdit by i_start, the predicted update by timestep."""
    seeds: int
    anagram: Annotated[dict[str, AnagramRates], Flat("anagram_")]
    hybrid: Annotated[dict[str, HybridRates], Flat("hybrid_")]
    bands: Annotated[dict[str, BandRates], Flat("bands_")]
    inpaint: Annotated[dict[int, Inpainted], Flat("inpaint_mask_")]
    sdedit: Annotated[dict[int, Kept], Flat("sdedit_i_start_")]
    velocity: Annotated[dict[int, UpdateError], Flat("velocity_t_")] = {}  # {} in runs before it (the reference's)


class PartAFlow(PartA):
    """reports/eval_parta_flow/metrics.json (stage eval_parta_flow): the same on the class flow model, SDEdit by
    t_start and the predicted update by time."""
    sdedit: Annotated[dict[Time, Kept], Flat("sdedit_t_start_", _dotless)]
    velocity: Annotated[dict[Time, UpdateError], Flat("velocity_t_", _dotless)] = {}


# -- the headline (reporting/summary.py) ---------------------------------------------------------------------------

class Interval(Shape):
    lo: float
    hi: float
    n: int


class Summary(MetricFile):
    """reports/summary.json (stage summary, reporting/summary.headline): the headline numbers in the order of
    summary.HEADLINE (None: not measured), then the 95 % interval and count of each measured one, written flat as
    <key>_lo, <key>_hi, <key>_n."""
    sort_keys: ClassVar[bool] = False
    profile: str
    psnr: float | None
    fd_time: float | None
    fd_floor: float | None
    acc_cfg: float | None
    fd_cfg: float | None
    fd_flow_time: float | None
    acc_flow: float | None
    fd_flow: float | None
    anagram: float | None
    hybrid: float | None
    inpaint: float | None
    sdedit: float | None
    anagram_flow: float | None
    hybrid_flow: float | None
    inpaint_flow: float | None
    sdedit_flow: float | None
    judge_acc: float | None
    s_denoiser: float | None
    s_time: float | None
    s_class: float | None
    intervals: dict[str, Interval] = {}

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in list(data):
                m = re.fullmatch(r"(.+)_(lo|hi|n)", key)
                if m and m[1] in cls.model_fields and key not in cls.model_fields:
                    data.setdefault("intervals", {}).setdefault(m[1], {})[m[2]] = data.pop(key)
        return data

    @model_serializer(mode="wrap")
    def _spread(self, handler) -> dict:
        data = handler(self)
        for key, bounds in data.pop("intervals").items():
            data.update({f"{key}_{end}": value for end, value in bounds.items()})
        return data


# Which model reads which file (relative to reports/)
FILES: dict[str, type[MetricFile]] = {
    "denoiser/ood.json": Ood,
    "pure_noise/metrics.json": PureNoise,
    "judge/metrics.json": JudgeTest,
    **{f"{m}/eval.json": TimeEval for m in ("ddpm_time", "flow_time")},
    **{f"{m}/eval.json": ClassEval for m in ("ddpm_class", "flow_class")},
    "objectives/metrics.json": Objectives,
    "samplers/metrics.json": Samplers,
    "eval_parta/metrics.json": PartA,
    "eval_parta_flow/metrics.json": PartAFlow,
    **{f"{m}/train/metrics.json": TrainLog for m in ("denoiser", "pure_noise", "judge", "ddpm_time", "ddpm_class",
                                                     "flow_time", "flow_class")},
    "summary.json": Summary,
}
