"""DeepFloyd IF as a DiffusionModel (model.py): stage I (64 x 64) does the diffusion, stage II (256 x 256) upsamples
results for display, and the T5 encoder runs only in the embed_prompts stage.

Components come from diffusers / transformers and are injected, so tests build tiny randomly initialised ones in
code and the real ones come from the Hugging Face hub (`DeepFloyd/IF-I-XL-v1.0`, `DeepFloyd/IF-II-L-v1.0`). The
weights are gated: a user needs to accept the licence and log in; without that, loading fails with
IFUnavailable saying so, before any work.

Stage I samples through the project's engine (ddpm.sample with IF's learned-range variance), which is diffusers'
IFPipeline step for step but for one thing: IF's scheduler config asks DDPMScheduler.step to threshold the estimate
of x0 (`thresholding: true`: per image, s = the `dynamic_thresholding_ratio` quantile of |x0|, kept within
[1, `sample_max_value`], x0 clamped to [-s, s] and divided by s; `clip_sample` is used only where thresholding is
off), after guidance and before the posterior mean. The engine does not: its x0 estimate is the model's, unclipped,
as in the course's sampler. Under strong guidance (CFG 7) that estimate leaves [-1, 1] and samples can come out
more saturated than IFPipeline's. Thresholding belongs in ddpm.sample, after the guided, anagram or factorized
predictor has combined its estimates (thresholding each model call before combining them would not be diffusers'
step), which is not this model's to change; until it is applied there, `caption_note` says so on the figures.
tests/test_deepfloyd.py checks that the engine equals IFPipeline on a scheduler without thresholding.
"""

import torch

from difflab.core.objectives import DDPM
from difflab.errors import InputError, ParamError

HOW_TO_GET_ACCESS = (
    "DeepFloyd IF weights are gated on the Hugging Face hub: accept the licence on the model pages "
    "(https://huggingface.co/DeepFloyd/IF-I-XL-v1.0 and https://huggingface.co/DeepFloyd/IF-II-L-v1.0), then "
    "log in with `huggingface-cli login` or set HF_TOKEN. Or point parta.deepfloyd_if.common.stage_1 / stage_2 at "
    "local copies. To run part A without IF: dvc exp run -S parta.model=mnist")


class IFUnavailable(RuntimeError):
    """The DeepFloyd IF weights cannot be loaded."""


DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def _dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ParamError(f"parta.deepfloyd_if.common.dtype={name!r}; allowed: {', '.join(DTYPES)}")
    return DTYPES[name]


def _load(what: str, fn, *args, **kwargs):
    """fn(*args, **kwargs), or IFUnavailable where the hub cannot hand the files over. diffusers and transformers
    raise OSErrors for those (gated, not logged in, offline, no such repository or file, an invalid repository
    name); anything else (a ValueError of a broken checkpoint, a bug) is not about access and keeps its traceback.
    The message names the hub's error and the exception chains it, so the reason is never lost."""
    try:
        return fn(*args, **kwargs)
    except OSError as e:
        raise IFUnavailable(f"cannot load {what}: {type(e).__name__}: {str(e).strip()}\n{HOW_TO_GET_ACCESS}") from e


def unapplied_clipping(config) -> str:
    """A caption note for the x0 clipping a stage I scheduler config asks for and the engine does not apply (see the
    module's docstring); "" where it asks for none."""
    if config.get("thresholding", False):
        return (f"x0 estimates not thresholded (IF's scheduler: dynamic thresholding, ratio "
                f"{config.get('dynamic_thresholding_ratio')}, max {config.get('sample_max_value')})")
    if config.get("clip_sample", False):
        return f"x0 estimates not clipped to +-{config.get('clip_sample_range', 1.0)} (IF's scheduler clips them)"
    return ""


def _placed(unet, device, dtype):
    # loaded with torch_dtype already: casting again only makes diffusers warn
    return (unet if unet.dtype == dtype else unet.to(dtype)).to(device).eval()


class DeepFloydIF:
    """Stage I's UNet predicts eps (channels 0-2) and the learned-range variance (3-5) at 64 x 64, in [-1, 1]."""

    name = "deepfloyd_if"
    channels = 3
    null_prompt = ""
    predicts_variance = True  # learned range: the second three output channels

    def __init__(self, unet_1, scheduler_1, unet_2=None, scheduler_2=None, noising_scheduler_2=None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float16, cpu_offload: bool = False,
                 stage_2_steps: int = 50, stage_2_guidance_scale: float = 4.0, stage_2_noise_level: int = 250):
        self.device, self.dtype, self.cpu_offload = torch.device(device), dtype, cpu_offload
        self.unet_1 = _placed(unet_1, self.device, dtype)
        self.unet_2 = None if unet_2 is None else _placed(unet_2, "cpu" if cpu_offload else self.device, dtype)
        self.scheduler_2, self.noising_scheduler_2 = scheduler_2, noising_scheduler_2
        self.stage_2 = dict(num_inference_steps=stage_2_steps, guidance_scale=stage_2_guidance_scale,
                            noise_level=stage_2_noise_level)
        self.alphas_cumprod = scheduler_1.alphas_cumprod.to(torch.float64).cpu()
        self.objective = DDPM(self.alphas_cumprod)  # the schedule of IF's own scheduler
        self.num_train_timesteps = scheduler_1.config.num_train_timesteps
        self.image_size = unet_1.config.sample_size
        self.display_size = self.image_size if unet_2 is None else unet_2.config.sample_size
        self.caption_note = unapplied_clipping(scheduler_1.config)  # what the figures must say the engine skips
        if scheduler_1.config.variance_type != "learned_range" or unet_1.config.out_channels != 6:
            raise InputError("stage I must predict eps and a learned-range variance (out_channels 6, "
                             f"variance_type 'learned_range'); got {unet_1.config.out_channels} channels, "
                             f"{scheduler_1.config.variance_type!r}")

    @classmethod
    def from_pretrained(cls, stage_1: str, stage_2: str | None, device, dtype: str = "float16",
                        variant: str | None = "fp16", **kwargs) -> "DeepFloydIF":
        from diffusers import DDPMScheduler, UNet2DConditionModel
        torch_dtype = _dtype(dtype)
        unet_1 = _load(f"the stage I UNet of {stage_1!r}", UNet2DConditionModel.from_pretrained, stage_1,
                       subfolder="unet", variant=variant, torch_dtype=torch_dtype)
        scheduler_1 = _load(f"the stage I scheduler of {stage_1!r}", DDPMScheduler.from_pretrained, stage_1,
                            subfolder="scheduler")
        unet_2 = scheduler_2 = noising = None
        if stage_2:
            unet_2 = _load(f"the stage II UNet of {stage_2!r}", UNet2DConditionModel.from_pretrained, stage_2,
                           subfolder="unet", variant=variant, torch_dtype=torch_dtype)
            scheduler_2 = _load(f"the stage II scheduler of {stage_2!r}", DDPMScheduler.from_pretrained, stage_2,
                                subfolder="scheduler")
            noising = _load(f"the stage II noising scheduler of {stage_2!r}", DDPMScheduler.from_pretrained,
                            stage_2, subfolder="image_noising_scheduler")
        return cls(unet_1, scheduler_1, unet_2, scheduler_2, noising, device=device, dtype=torch_dtype, **kwargs)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.unet_1(x_t.to(self.dtype), t, encoder_hidden_states=cond.to(self.dtype)).sample
        eps, variance = out.to(x_t.dtype).split(3, dim=1)
        return eps, variance

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x - 1

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def upsample(self, x: torch.Tensor, cond: torch.Tensor, null: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
        """Stage II: diffusers' IFSuperResolutionPipeline on the 64 x 64 result, same prompt, CFG."""
        if self.unet_2 is None:
            return x
        from diffusers import IFSuperResolutionPipeline
        pipe = IFSuperResolutionPipeline(tokenizer=None, text_encoder=None, unet=self.unet_2,
                                         scheduler=self.scheduler_2, image_noising_scheduler=self.noising_scheduler_2,
                                         safety_checker=None, feature_extractor=None, watermarker=None,
                                         requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        if self.cpu_offload:
            self.unet_1.to("cpu"), self.unet_2.to(self.device)
        try:
            out = pipe(image=x.to(self.dtype), prompt_embeds=cond.to(self.device, self.dtype),
                       negative_prompt_embeds=null.to(self.device, self.dtype), generator=generator,
                       output_type="pt", **self.stage_2).images
        finally:
            if self.cpu_offload:
                self.unet_2.to("cpu"), self.unet_1.to(self.device)
        return out.to(x.dtype)


@torch.no_grad()
def t5_embeddings(prompts: list[str], repo: str, device, dtype: str = "float16", variant: str | None = "fp16",
                  max_length: int = 77) -> torch.Tensor:
    """The T5 encoder of IF stage I, as IFPipeline.encode_prompt runs it (without its optional caption cleaning):
    (len(prompts), 77, 4096) for T5 v1.1 XXL."""
    from transformers import AutoTokenizer, T5EncoderModel
    tokenizer = _load(f"the tokenizer of {repo!r}", AutoTokenizer.from_pretrained, repo, subfolder="tokenizer")
    encoder = _load(f"the T5 text encoder of {repo!r}", T5EncoderModel.from_pretrained, repo,
                    subfolder="text_encoder", variant=variant, torch_dtype=_dtype(dtype)).to(device).eval()
    tokens = tokenizer(prompts, padding="max_length", max_length=max_length, truncation=True,
                       add_special_tokens=True, return_tensors="pt")
    return encoder(tokens.input_ids.to(device), attention_mask=tokens.attention_mask.to(device))[0].float().cpu()
