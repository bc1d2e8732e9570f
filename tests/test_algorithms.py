"""The part A algorithms against models with a known answer."""

import math

import pytest
import torch
from diffusers import DDPMScheduler
from gaussian import exact_moments

from difflab.core import ddpm
from difflab.core.objectives import DDPM
from difflab.core.predictor import conditional, guided
from difflab.core.processes import DDPMProcess
from difflab.core.timesteps import timesteps
from difflab.parta import algorithms as alg
from difflab.core.views import VIEWS


class GaussianModel:
    """Data x0 ~ N(mu_c, s^2 I) per pixel, mu_c an image chosen by a one-hot condition (zeros = mu_null).

    The exact noise predictor is analytic: x_t ~ N(sqrt(ab) mu, ab s^2 + 1 - ab), so
    E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) mu) / (ab s^2 + 1 - ab). With learned_variance=v it also returns a
    constant predicted variance v (in diffusers' learned_range convention).
    """

    name, channels, image_size, null_prompt, device = "gaussian", 1, 8, "", torch.device("cpu")

    def __init__(self, means: torch.Tensor, s: float, alphas_cumprod: torch.Tensor, null_mean: torch.Tensor,
                 learned_variance: float | None = None):
        self.means, self.s, self.null_mean = means, s, null_mean  # means: (K, 1, 8, 8)
        self.alphas_cumprod, self.num_train_timesteps = alphas_cumprod, len(alphas_cumprod)
        self.objective = DDPM(alphas_cumprod)
        self.learned_variance = learned_variance
        self.calls = 0

    @property
    def predicts_variance(self) -> bool:
        return self.learned_variance is not None

    def mean(self, cond: torch.Tensor) -> torch.Tensor:
        mu = torch.einsum("nk,kchw->nchw", cond, self.means)
        return torch.where(cond.sum(1).reshape(-1, 1, 1, 1) == 0, self.null_mean, mu)

    def predict(self, x, t, cond):
        self.calls += 1
        ab = self.alphas_cumprod[t].item()
        eps = math.sqrt(1 - ab) * (x - math.sqrt(ab) * self.mean(cond)) / (ab * self.s ** 2 + 1 - ab)
        var = None if self.learned_variance is None else torch.full_like(x, self.learned_variance)
        return eps, var

    def to_model(self, x):
        return x

    def to_unit(self, x):
        return x


def P(model, **sampler) -> DDPMProcess:  # noqa: N802 (the model's process, as the engine builds it)
    return DDPMProcess(model.alphas_cumprod, **sampler)


def cosine_schedule():
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").alphas_cumprod.double()


def three_means_model(**options) -> GaussianModel:
    """Three random 8 x 8 means (seed 0) at s = 0.2 under the cosine schedule, a zero null mean; `options` go to
    GaussianModel (test_views.py's model has a learned variance)."""
    g = torch.Generator().manual_seed(0)
    means = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    return GaussianModel(means, 0.2, cosine_schedule(), torch.zeros(1, 1, 8, 8, dtype=torch.float64), **options)


@pytest.fixture
def model():
    return three_means_model()


def onehot(*ks, n=3):
    return torch.eye(n, dtype=torch.float64)[list(ks)]


def noise(n, seed=1):
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_one_rule_turns_a_stride_or_a_step_count_into_timesteps():
    ts = timesteps(1000, stride=30)
    assert ts[:3] == [990, 960, 930] and ts[-2:] == [30, 0] and len(ts) == 34
    assert timesteps(300, stride=9)[:2] == [297, 288] and len(timesteps(300, stride=9)) == 34
    # a step count runs that many steps (part A's "30 steps" on IF once ran 31: stride 1000 // 30 = 33)
    assert [len(timesteps(1000, num_steps=n)) for n in (5, 20, 30, 1000)] == [5, 20, 30, 1000]
    assert timesteps(1000, num_steps=30)[0] == 999 and timesteps(1000, num_steps=30)[-1] == 0
    assert timesteps(4) == [3, 2, 1, 0]
    with pytest.raises(ValueError, match="stride=0"):
        timesteps(300, stride=0)
    with pytest.raises(AssertionError, match="one of the two"):  # a caller's slip: no user gives both
        timesteps(300, num_steps=5, stride=9)


def test_learned_range_std_matches_diffusers():
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2",
                              variance_type="learned_range")
    ts = timesteps(1000, stride=30)
    scheduler.set_timesteps(timesteps=ts)
    ab = scheduler.alphas_cumprod.double()
    v = torch.linspace(-1, 1, 5, dtype=torch.float64)
    for t, t_prev in [(990, 960), (690, 660), (30, 0)]:
        theirs = torch.exp(0.5 * scheduler._get_variance(t, predicted_variance=v))
        ours = ddpm.step_std(ab[t].item(), ab[t_prev].item(), "learned_range", t - t_prev, v)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
def test_fixed_variances_match_diffusers_on_strided_steps(variance):
    """On a step that spans more than one timestep, fixed_small / fixed_large are diffusers' DDPMScheduler's
    (the posterior's beta_tilde / the span's beta), whose names they take."""
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", variance_type=variance)
    ts = timesteps(1000, stride=30)
    scheduler.set_timesteps(timesteps=ts)
    ab = scheduler.alphas_cumprod.double()
    for t, t_prev in [(990, 960), (690, 660), (30, 0)]:
        theirs = scheduler._get_variance(t).double().sqrt().item()
        assert ddpm.step_std(ab[t].item(), ab[t_prev].item(), variance, t - t_prev) == pytest.approx(theirs, rel=1e-5)


@pytest.mark.parametrize("learned_variance, stride", [(None, 1), (-1.0, 1), (0.0, 1), (None, 30), (1.0, 30)])
def test_iterative_denoising_from_noise_recovers_the_data(model, learned_variance, stride):
    """Sampling from pure noise with the exact predictor reproduces mu and s over every timestep, whichever
    variance the model picks in its learned range; on IF's stride of 30 the posterior's noise (fixed_small) gives
    the spread its exact moments say (a little under s), and the widest of the learned range no more than s."""
    model.learned_variance = learned_variance
    ts = timesteps(1000, stride=stride)
    n = 4000
    variance = "fixed_small" if learned_variance is None else "learned_range"
    x = alg.iterative_denoise(P(model, variance=variance), noise(n), ts, 0, conditional(model, onehot(1)),
                              torch.Generator().manual_seed(2))
    torch.testing.assert_close(x.mean(0), model.means[1], atol=4 * 0.2 / math.sqrt(n) + 0.01, rtol=0)
    spread = x.std(0).mean().item()
    if stride == 1:
        assert spread == pytest.approx(0.2, rel=0.03)
    elif learned_variance is None:
        assert spread == pytest.approx(exact_moments(model.alphas_cumprod, ts, 0.0, 0.2)[1], rel=0.03)
    else:
        assert spread < 0.2 * 1.1


@pytest.mark.parametrize("learned_variance", [None, 1.0])
def test_the_engine_samples_by_ddim_where_asked(model, learned_variance):
    """sampler: ddim in parta.<model>.common reaches the engine as eta: over IF's 1000 steps DDIM with eta 0 lands
    on the data distribution without drawing noise, ignoring a predicted variance (IF's learned range)."""
    from difflab.config.schema import MnistCommon
    from difflab.parta.engine import process_of
    ddpm_step = process_of(model, MnistCommon.model_construct(sampler="ddpm", ddim_eta=0.5, variance="fixed_large",
                                                              stride=30))
    assert (ddpm_step.eta, ddpm_step.variance, ddpm_step.stride) == (None, "fixed_large", 30)
    process = process_of(model, MnistCommon.model_construct(sampler="ddim", ddim_eta=0.0, variance="learned_range",
                                                            stride=1))
    assert process.eta == 0.0
    model.learned_variance = learned_variance
    ts, n = process.grid(), 4000
    assert ts == timesteps(1000, stride=1)
    run = lambda seed: alg.iterative_denoise(process, noise(n), ts, 0, conditional(model, onehot(1)),  # noqa: E731
                                             torch.Generator().manual_seed(seed))
    x = run(2)
    torch.testing.assert_close(x.mean(0), model.means[1], atol=4 * 0.2 / math.sqrt(n) + 0.01, rtol=0)
    assert x.std(0).mean().item() == pytest.approx(0.2, rel=0.03)
    torch.testing.assert_close(run(3), x, rtol=0, atol=0)


def test_one_step_denoising_is_exact_for_a_point_mass(model):
    model.s = 0.0
    x_t = alg.forward(P(model), model.means[2:3], 500, torch.Generator().manual_seed(0))
    torch.testing.assert_close(alg.one_step_denoise(P(model), x_t, 500, conditional(model, onehot(2))),
                               model.means[2:3])


def test_cfg_with_scale_one_is_the_conditional_sampler_and_batches_one_call(model):
    ts = timesteps(1000, stride=100)
    run = lambda predictor: alg.iterative_denoise(P(model), noise(4), ts, 0, predictor,  # noqa: E731
                                                  torch.Generator().manual_seed(3))
    unguided = run(conditional(model, onehot(0)))
    model.calls = 0
    at_one = run(guided(model, onehot(0), onehot(0) * 0, 1.0))
    torch.testing.assert_close(at_one, unguided)
    assert model.calls == len(ts)  # conditional and unconditional estimates in one call per step


class ConditionVarianceModel(GaussianModel):
    """The Gaussian model with a predicted variance that tells the conditions apart: level k for the one-hot
    condition k, NULL_LEVEL for the null condition (zeros)."""

    LEVELS, NULL_LEVEL = torch.tensor([0.5, -0.25, 0.75], dtype=torch.float64), -0.9
    predicts_variance = True

    def predict(self, x, t, cond):
        eps, _ = super().predict(x, t, cond)
        level = torch.where(cond.sum(1) == 0, self.NULL_LEVEL, cond @ self.LEVELS)
        return eps, level.reshape(-1, 1, 1, 1).expand_as(x).clone()


def test_guided_predictors_take_the_conditional_variance(model):
    """CFG extrapolates eps only: the predicted variance is the conditional estimate's, sample by sample; anagrams
    and hybrids average the variances of their two guided estimates."""
    m = ConditionVarianceModel(model.means, model.s, model.alphas_cumprod, model.null_mean)
    levels = lambda *ks: m.LEVELS[list(ks)].reshape(-1, 1, 1, 1).expand(-1, 1, 8, 8)  # noqa: E731
    x, null = noise(3), torch.zeros(3, 3, dtype=torch.float64)
    _, var = guided(m, onehot(2, 0, 1), null, 4.0)(x, 500)
    torch.testing.assert_close(var, levels(2, 0, 1))
    _, var = alg.anagram(m, [onehot(0, 1, 2), onehot(2, 2, 0)], null, 4.0, [VIEWS["identity"], VIEWS["flip"]])(x, 500)
    torch.testing.assert_close(var, (levels(0, 1, 2) + levels(2, 2, 0)) / 2)
    _, var = alg.factorized(m, [onehot(0, 1, 2), onehot(1, 1, 0)], null, 4.0, alg.frequency_bands([(5, 1.0)]))(x, 500)
    torch.testing.assert_close(var, (levels(0, 1, 2) + levels(1, 1, 0)) / 2)


def test_inpainting_keeps_the_known_region(model):
    x_orig = model.means[0:1].expand(2000, -1, -1, -1).clone()
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., :4, :] = 1  # new content in the top half
    ts = timesteps(1000, stride=100)
    ab = model.alphas_cumprod
    seen = []

    def observe(t_prev, x):
        known = x[..., 4:, :]
        if t_prev >= 0:  # the known region is the original, forward-noised to t': standardised, it is N(0, 1)
            z = (known - math.sqrt(ab[t_prev]) * x_orig[..., 4:, :]) / math.sqrt(1 - ab[t_prev])
            seen.append((z.mean().item(), z.std().item()))
        else:
            seen.append(None)
    out = alg.inpaint(P(model), x_orig, mask, ts, conditional(model, onehot(1)), torch.Generator().manual_seed(4),
                      observe=observe)
    assert len(seen) == len(ts) and seen[-1] is None
    for mean, std in seen[:-1]:
        assert abs(mean) < 0.02 and std == pytest.approx(1.0, abs=0.02)
    assert torch.equal(out[..., 4:, :], x_orig[..., 4:, :])  # exactly the original at the end
    torch.testing.assert_close(out[..., :4, :].mean(0), model.means[1][..., :4, :], atol=0.05, rtol=0)


def test_factorized_estimate_splits_frequencies(model):
    x, null = noise(2), torch.zeros(2, 3, dtype=torch.float64)
    bands = alg.frequency_bands([(5, 1.0)])
    same = alg.factorized(model, [onehot(0, 1), onehot(0, 1)], null, 3.0, bands)(x, 300)[0]
    torch.testing.assert_close(same, guided(model, onehot(0, 1), null, 3.0)(x, 300)[0])
    low_src = guided(model, onehot(0, 0), null, 3.0)(x, 300)[0]
    high_src = guided(model, onehot(1, 1), null, 3.0)(x, 300)[0]
    mixed = alg.factorized(model, [onehot(0, 0), onehot(1, 1)], null, 3.0, bands)(x, 300)[0]
    blur = lambda e: alg.gaussian_blur(e, 5, 1.0)  # noqa: E731
    torch.testing.assert_close(mixed, blur(low_src) + high_src - blur(high_src))


def test_sdedit_projects_onto_the_data_more_the_earlier_it_starts(model):
    """An off-manifold image (mu + 0.5): a late start keeps it, an early one lands on the data's mean."""
    ts = timesteps(1000, stride=30)
    x0 = (model.means[0:1] + 0.5).expand(500, -1, -1, -1)
    predictor = conditional(model, onehot(0))
    late = alg.sdedit(P(model), x0, ts, len(ts) - 2, predictor, torch.Generator().manual_seed(5))
    early = alg.sdedit(P(model), x0, ts, 1, predictor, torch.Generator().manual_seed(5))
    assert (late.mean(0) - x0[0]).abs().max() < 0.05
    assert (early.mean(0) - model.means[0]).abs().max() < 0.05


def test_i_start_is_checked(model):
    ts = timesteps(1000, stride=30)
    x0 = model.means[0:1]
    with pytest.raises(ValueError, match="i_start=34; allowed: 0 .. 33"):
        alg.sdedit(P(model), x0, ts, 34, conditional(model, onehot(0)), torch.Generator())


def test_guidance_at_scale_0_and_1_computes_only_the_half_it_needs(model):
    """eps_u + 1 (eps_c - eps_u) = eps_c and eps_u + 0 (...) = eps_u: one half of the batched call is not needed, except
    at scale 0 for a model whose (conditional) variance must still be computed."""
    x, cond, null = noise(3), onehot(2, 0, 1), torch.zeros(3, 3, dtype=torch.float64)
    seen = []
    spy = ConditionVarianceModel(model.means, model.s, model.alphas_cumprod, model.null_mean)
    plain = GaussianModel(model.means, model.s, model.alphas_cumprod, model.null_mean)
    for m in (spy, plain):
        original = m.predict
        m.predict = lambda x, t, c, original=original: seen.append(len(x)) or original(x, t, c)
    eps_c, var_c = spy.predict(x, 300, cond)
    eps_u, _ = spy.predict(x, 300, null)
    seen.clear()
    for scale, expected_eps in ((1.0, eps_c), (0.0, eps_u), (2.0, 2 * eps_c - eps_u)):
        eps, var = guided(spy, cond, null, scale)(x, 300)
        torch.testing.assert_close(eps, expected_eps)
        torch.testing.assert_close(var, var_c)  # always the conditional variance
    assert seen == [3, 6, 6]  # scale 0 still needs the conditional half for its variance
    seen.clear()
    for scale in (1.0, 0.0, 2.0):
        guided(plain, cond, null, scale)(x, 300)
    assert seen == [3, 3, 6]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kernel_size, sigma, shape", [(3, 1.0, (2, 1, 28, 28)), (7, 2.5, (1, 3, 16, 20)),
                                                       (33, 2.0, (1, 3, 64, 64))])
def test_gaussian_blur_is_torchvisions_to_the_bit(kernel_size, sigma, shape, dtype):
    """The blur written out (a stage need not import torchvision) gives torchvision's bits: the same kernel (sum 1,
    widest in the middle), reflection padding and grouped convolution; a constant image stays constant."""
    import torchvision.transforms.functional as TF

    x = torch.rand(shape, generator=torch.Generator().manual_seed(kernel_size)).to(dtype)
    assert torch.equal(alg.gaussian_blur(x, kernel_size, sigma), TF.gaussian_blur(x, [kernel_size] * 2, [sigma] * 2))
    flat = torch.full((1, 1, 9, 9), 0.25)
    assert torch.allclose(alg.gaussian_blur(flat, 5, 1.0), flat)
