"""Flow matching (flow.py) and what it shares with the DDPM: the loss against hand-computed cases, the Euler sampler
on fields with known solutions and on a Gaussian data set's exact velocity field, classifier-free guidance on the
velocity through the same predictor, and the step counts both objectives sample with."""

import pytest
import torch
from torch import nn

from difflab.core import ddpm, flow, guidance
from difflab.core.timesteps import timesteps
from difflab.models.unet import UNet
from difflab.sampling.generate import generate, steps_of
from difflab.training.denoiser import pure_noise_loss


def gaussian_velocity(mu: torch.Tensor, s: torch.Tensor):
    """The exact flow-matching field of data x1 ~ N(mu, s^2) (each dimension independent) from x0 ~ N(0, 1):
    u(x, t) = E[x1 - x0 | x_t = x] = mu + (t s^2 - (1 - t)) / ((1 - t)^2 + t^2 s^2) * (x - t mu)."""
    def u(x: torch.Tensor, t: float) -> torch.Tensor:
        var = (1 - t) ** 2 + t ** 2 * s ** 2
        return mu + (t * s ** 2 - (1 - t)) / var * (x - t * mu)
    return u


def test_euler_on_the_exact_field_carries_noise_to_the_data_distribution():
    mu, s = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([0.5, 2.0, 1.0])
    x0 = torch.randn(40000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x1 = flow.euler_sample(gaussian_velocity(mu.double(), s.double()), x0, 400)
    torch.testing.assert_close(x1.mean(0), mu.double(), atol=0.03, rtol=0)
    torch.testing.assert_close(x1.std(0), s.double(), atol=0, rtol=0.02)
    # the flow is deterministic and monotone: each sample keeps its rank along every dimension
    assert (x1.argsort(0) == x0.argsort(0)).all()
    # and a single Euler step lands elsewhere: the test can tell a good integration from a poor one
    one = flow.euler_sample(gaussian_velocity(mu.double(), s.double()), x0, 1)
    assert (one.std(0) - s).abs().max() > 0.3


def test_euler_steps_known_fields_exactly():
    x0 = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    c = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(flow.euler_sample(lambda x, t: c, x0, 7), x0 + c)  # constant velocity
    times, after = [], []
    out = flow.euler_sample(lambda x, t: (times.append(t) or x, None), x0, 4,  # u = x, returned as a prediction
                            on_step=lambda i, t, x: after.append((i, t)))
    torch.testing.assert_close(out, x0 * (1 + 1 / 4) ** 4)  # Euler's (1 + h)^n, not e
    assert times == [0.0, 0.25, 0.5, 0.75] and after == [(0, 0.25), (1, 0.5), (2, 0.75), (3, 1.0)]
    pinned = flow.euler_sample(lambda x, t: c, x0, 3, on_step=lambda i, t, x: torch.zeros_like(x) if i == 1 else None)
    torch.testing.assert_close(pinned, c.expand_as(x0) / 3)  # a tensor returned by on_step replaces x
    with pytest.raises(AssertionError, match="num_steps=0"):  # below the entry: FlowProcess.grid checks it
        flow.euler_sample(lambda x, t: x, x0, 0)


class Spy(nn.Module):
    """Records what the loss feeds the model and answers zeros."""

    def forward(self, x, t=None, c=None):
        self.seen = (x, t, c)
        return torch.zeros_like(x)


def test_flow_loss_regresses_the_straight_line_velocity():
    x1 = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(64) % 10
    spy = Spy()
    loss = flow.flow_loss("class", p_uncond=0.25)(spy, x1, labels, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # the same draws, in the loss's order: noise, times, class dropout
    x0 = torch.randn(x1.shape, generator=g)
    t = torch.rand(64, generator=g)
    c = guidance.one_hot_dropout(labels, 0.25, g)
    x_t, t_seen, c_seen = spy.seen
    torch.testing.assert_close(t_seen, t)
    torch.testing.assert_close(x_t, (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * x1)
    torch.testing.assert_close(c_seen, c)
    torch.testing.assert_close(loss, (x1 - x0).pow(2).mean())  # the model answered 0, the target is x1 - x0
    assert 0 < (c.sum(1) == 0).sum() < 64  # some classes were dropped, not all
    spy_time = Spy()
    flow.flow_loss("time")(spy_time, x1, labels, torch.Generator())
    assert spy_time.seen[2] is None  # the time-conditioned model gets no class


def test_interpolate_ends_at_noise_and_data():
    x0, x1 = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    torch.testing.assert_close(flow.interpolate(x0, x1, torch.tensor([0.0, 1.0])), torch.stack([x0[0], x1[0]]))
    torch.testing.assert_close(flow.interpolate(x0, x1, 0.25), torch.full_like(x0, 0.25))


def flow_model(conditioning: str = "class") -> tuple[UNet, dict]:
    torch.manual_seed(4)
    unet = UNet(4, conditioning).eval()
    for m in unet.modules():  # non-trivial BatchNorm statistics, so the UNet is not near the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
    return unet, {"hidden": 4, "conditioning": conditioning, "objective": "flow", "epoch": 1}


def test_cfg_on_the_velocity_in_one_batched_call():
    unet, meta = flow_model()
    x0 = torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    digits = [0, 1, 2, 7, 8, 9]
    calls = []
    unet.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    one_step = generate(unet, meta, x0, torch.Generator(), digits, 4.0, num_steps=1)
    assert calls == [12]  # conditional and unconditional estimates of 6 images in one call
    with torch.no_grad():
        t0 = torch.zeros(6)
        u_c, u_u = unet(x0, t0, torch.eye(10)[digits]), unet(x0, t0, torch.zeros(6, 10))
    torch.testing.assert_close(one_step, x0 + (u_u + 4.0 * (u_c - u_u)), atol=1e-5, rtol=1e-5)


def test_flow_sampling_is_deterministic_and_needs_a_step_count():
    unet, meta = flow_model("time")
    x0 = torch.randn(3, 1, 28, 28)
    a = generate(unet, meta, x0, torch.Generator().manual_seed(1), num_steps=3)
    b = generate(unet, meta, x0, torch.Generator().manual_seed(2), num_steps=3)
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # all the randomness is in x0: the generator does not matter
    with pytest.raises(ValueError, match="needs num_steps"):
        generate(unet, meta, x0, torch.Generator())


def test_ddpm_steps_are_spread_over_its_timesteps():
    assert timesteps(300, 5) == [299, 224, 150, 75, 0]
    assert timesteps(300) == list(range(299, -1, -1)) == timesteps(300, 300)
    assert timesteps(10, 1) == [9]
    for bad in (0, 301):
        with pytest.raises(ValueError, match=f"num_steps={bad}; allowed for a DDPM: 1 .. T \\(300\\)"):
            timesteps(300, bad)
    meta = {"objective": "ddpm", "num_timesteps": 300, "beta_start": 1e-4, "beta_end": 0.02}
    assert steps_of(meta, None) == 300 and steps_of(meta, 20) == 20 and steps_of({**meta, "objective": "flow"}, 7) == 7


def test_a_strided_ddpm_takes_the_posterior_step_between_its_timesteps():
    """generate(num_steps=k) on a DDPM is ddpm.sample over timesteps(T, k), noise for noise."""
    torch.manual_seed(6)
    unet = UNet(4, "time").eval()
    meta = {"hidden": 4, "conditioning": "time", "num_timesteps": 50, "beta_start": 1e-4, "beta_end": 0.02}
    x_T = torch.randn(2, 1, 28, 28)
    got = generate(unet, meta, x_T, torch.Generator().manual_seed(7), num_steps=6)
    ab = ddpm.linear_alphas_cumprod(50, 1e-4, 0.02)
    with torch.no_grad():
        want = ddpm.sample(lambda x, t: unet(x, torch.full((2,), t / 50)), x_T, ab, torch.Generator().manual_seed(7),
                           timesteps=[49, 39, 29, 20, 10, 0])
    torch.testing.assert_close(got, want)


def test_part_a_refuses_a_model_of_the_other_objective_and_the_samplers_theirs(tmp_path):
    from difflab.config.runtime import Runtime
    from difflab.config.schema import MnistCommon
    from difflab.models.checkpoints import save_model
    from difflab.parta.load import load_diffusion_model
    from difflab.sampling.adapters import MnistModel

    unet, meta = flow_model()
    save_model(tmp_path / "flow.safetensors", unet.state_dict(), meta)
    with pytest.raises(ValueError, match="part A here needs the class-conditioned model of parta.mnist; this one "
                                         "is class-conditioned, objective 'flow'"):
        load_diffusion_model("mnist", MnistCommon.model_construct(checkpoint=tmp_path / "flow.safetensors"),
                             Runtime(torch.device("cpu"), "fp32"))
    with pytest.raises(ValueError, match="conditioning 'none' is a one-step denoiser"):
        MnistModel(UNet(4, "none"), meta)
    with pytest.raises(ValueError, match="objective 'score' in the model's metadata; allowed: ddpm, flow"):
        MnistModel(unet, {**meta, "objective": "score"})


class Constant(nn.Module):
    """A model that ignores its input: all it can learn is one image."""

    def __init__(self):
        super().__init__()
        self.image = nn.Parameter(torch.zeros(1, 1, 28, 28))

    def forward(self, z):
        self.seen = z
        return self.image.expand_as(z)


def test_denoising_pure_noise_can_only_learn_the_mean_digit():
    g = torch.Generator().manual_seed(8)
    data = torch.rand(512, 1, 28, 28, generator=g) ** 3
    model, loss_fn = Constant(), pure_noise_loss()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(300):
        batch = data[(torch.arange(64) + 64 * step) % len(data)]
        loss = loss_fn(model, batch, torch.zeros(64, dtype=torch.long), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    z = model.seen
    assert abs(z.mean().item()) < 0.02 and abs(z.std().item() - 1) < 0.02  # the input is N(0, I) noise ...
    assert abs(torch.corrcoef(torch.stack([z.flatten(), batch.flatten()]))[0, 1].item()) < 0.02  # ... unrelated to x
    torch.testing.assert_close(model.image.detach(), data.mean(0, keepdim=True), atol=0.03, rtol=0)
