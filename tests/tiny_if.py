"""Tiny, randomly initialised DeepFloyd-IF-shaped components, saved in the layout of the hub repositories
(stage I: unet, scheduler, text_encoder, tokenizer; stage II: unet, scheduler, image_noising_scheduler), so the
real loading code runs on them offline. Shapes follow diffusers' own IF pipeline tests."""

from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

WIDTH = 32  # T5 d_model = the UNets' encoder_hid_dim


def _unet(in_channels: int, sample_size: int, super_resolution: bool) -> UNet2DConditionModel:
    extra = dict(class_embed_type="timestep", mid_block_scale_factor=1.414, time_embedding_act_fn="gelu",
                 time_embedding_dim=32) if super_resolution else {}
    return UNet2DConditionModel(
        sample_size=sample_size, layers_per_block=1, block_out_channels=[32, 64],
        down_block_types=["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"], in_channels=in_channels,
        out_channels=6, cross_attention_dim=WIDTH, encoder_hid_dim=WIDTH, attention_head_dim=8,
        addition_embed_type="text", addition_embed_type_num_heads=2, cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift", act_fn="gelu", **extra)


def _if_scheduler() -> DDPMScheduler:  # the IF settings: 1000 steps, cosine, learned-range variance
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", variance_type="learned_range",
                         thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.0)


def _tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>"] + sorted(set(words)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def save_tiny_if(root: Path, words: list[str], stage_1_size: int = 16, seed: int = 0) -> tuple[Path, Path]:
    torch.manual_seed(seed)
    stage_1, stage_2 = root / "IF-I-tiny", root / "IF-II-tiny"
    _unet(3, stage_1_size, False).save_pretrained(stage_1 / "unet")
    _if_scheduler().save_pretrained(stage_1 / "scheduler")
    T5EncoderModel(T5Config(vocab_size=len(words) + 3, d_model=WIDTH, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
                            relative_attention_num_buckets=8)).save_pretrained(stage_1 / "text_encoder")
    _tokenizer(words).save_pretrained(stage_1 / "tokenizer")
    _unet(6, 2 * stage_1_size, True).save_pretrained(stage_2 / "unet")
    _if_scheduler().save_pretrained(stage_2 / "scheduler")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").save_pretrained(
        stage_2 / "image_noising_scheduler")
    return stage_1, stage_2
