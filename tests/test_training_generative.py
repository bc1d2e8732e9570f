"""training.generative: the loss, settings and names each generative section trains with."""

import torch
from helpers import ROOT

from difflab.config.params import DIFFUSION_MODELS, load
from difflab.models.unet import UNet
from difflab.training.generative import diffusion_objective


def test_each_generative_section_trains_for_its_objective():
    """The DDPMs record their schedule (the sampler reads it back from the weights' metadata), flow matching
    nothing; a time-conditioned model has no class to drop, whatever p_uncond its section might hold."""
    p = load(ROOT / "params.yaml")
    got = {s: diffusion_objective(p, s) for s in DIFFUSION_MODELS}
    # the schedule as the weights' metadata records it, in params.yaml's order (the saved bytes depend on it)
    assert got["ddpm_time"].settings == got["ddpm_class"].settings == {"num_timesteps": 300, "beta_start": 1e-4,
                                                                        "beta_end": 0.02}
    assert list(got["ddpm_class"].settings) == ["num_timesteps", "beta_start", "beta_end"]
    assert got["ddpm_class"].what == f"DDPM, T={p.ddpm.num_timesteps}"
    assert got["flow_time"].settings == got["flow_class"].settings == {}
    assert got["flow_class"].what == "flow matching"
    assert got["ddpm_time"].p_uncond == got["flow_time"].p_uncond == 0.0
    assert got["ddpm_class"].p_uncond == p.ddpm_class.p_uncond
    assert got["flow_class"].p_uncond == p.flow_class.p_uncond
    x, labels = torch.rand(4, 1, 28, 28), torch.arange(4)
    for section, objective in got.items():
        loss = objective.loss(UNet(4, section.split("_")[1]), x, labels, torch.Generator().manual_seed(0))
        assert loss.shape == () and torch.isfinite(loss)
