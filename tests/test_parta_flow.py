"""Part A's algorithms on a flow model, against the exact velocity field of Gaussian data (known answers), as
test_algorithms.py checks them on a DDPM: the one-step estimate, Euler's iterative denoising, inpainting, SDEdit,
CFG, anagrams under every view and factorized components."""

import math

import pytest
import torch
from helpers import ROOT

from difflab.core.objectives import Flow
from difflab.core.predictor import conditional, guided
from difflab.core.processes import FlowProcess
from difflab.core.views import VIEWS
from difflab.errors import InputError
from difflab.parta import algorithms as alg
from difflab.parta.engine import Engine


class GaussianFlow:
    """Data x1 ~ N(mu_c, s^2 I) per pixel, mu_c chosen by a one-hot condition (zeros = mu_null); noise x0 ~ N(0, I);
    x_t = (1 - t) x0 + t x1. The exact velocity E[x1 - x0 | x_t] = (E[x1 | x_t] - x_t) / (1 - t), with
    E[x1 | x_t] = mu + t s^2 (x_t - t mu) / ((1 - t)^2 + t^2 s^2)."""

    name, objective, channels, image_size, null_prompt = "gaussian-flow", Flow(), 1, 8, ""
    device, predicts_variance = torch.device("cpu"), False

    def __init__(self, means: torch.Tensor, s: float, null_mean: torch.Tensor):
        self.means, self.s, self.null_mean = means, s, null_mean
        self.calls = 0

    def mean(self, cond: torch.Tensor) -> torch.Tensor:
        mu = torch.einsum("nk,kchw->nchw", cond, self.means)
        return torch.where(cond.sum(1).reshape(-1, 1, 1, 1) == 0, self.null_mean, mu)

    def clean_mean(self, x, t, cond):
        mu, s2 = self.mean(cond), self.s ** 2
        return mu + t * s2 * (x - t * mu) / ((1 - t) ** 2 + t * t * s2)

    def predict(self, x, t, cond):
        self.calls += 1
        return (self.clean_mean(x, t, cond) - x) / (1 - t), None

    def to_model(self, x):
        return x


@pytest.fixture
def model():
    g = torch.Generator().manual_seed(0)
    means = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64)
    return GaussianFlow(means, 0.2, torch.full((1, 8, 8), 0.5, dtype=torch.float64))


def onehot(*ks) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(ks), 3).double()


def noise(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_one_step_estimate_is_the_conditional_mean_and_exact_for_a_point_mass(model):
    process, x = FlowProcess(0.02), noise(5)
    for t in (0.1, 0.5, 0.9):
        torch.testing.assert_close(alg.one_step_denoise(process, x, t, conditional(model, onehot(1))),
                                   model.clean_mean(x, t, onehot(1).expand(5, 3)))
    model.s = 0.0
    x_t = alg.forward(process, model.means[2:3], 0.3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(alg.one_step_denoise(process, x_t, 0.3, conditional(model, onehot(2))),
                               model.means[2:3])


def test_the_forward_process_interpolates_noise_and_image(model):
    """x_t = (1 - t) eps + t x1 with eps from the generator: at t the image's share is t."""
    process, x1 = FlowProcess(0.02), model.means[0:1].expand(20000, -1, -1, -1)
    x_t = alg.forward(process, x1, 0.25, torch.Generator().manual_seed(3))
    torch.testing.assert_close(x_t.mean(0), 0.25 * model.means[0], atol=0.02, rtol=0)
    assert x_t.std(0).mean().item() == pytest.approx(0.75, rel=0.02)


def test_euler_from_noise_recovers_the_datas_moments(model):
    """Euler's steps along the exact field carry N(0, I) to N(mu, s^2): mean mu, spread s within Euler's error."""
    process, n = FlowProcess(0.01), 4000
    x = alg.iterative_denoise(process, noise(n), process.grid(), 0, conditional(model, onehot(1)), None)
    torch.testing.assert_close(x.mean(0), model.means[1], atol=4 * 0.2 / math.sqrt(n) + 0.01, rtol=0)
    assert x.std(0).mean().item() == pytest.approx(0.2, rel=0.05)


def test_guidance_at_scales_0_and_1_is_the_unconditional_and_conditional_velocity(model):
    x, cond, null = noise(3), onehot(2, 0, 1), torch.zeros(3, 3, dtype=torch.float64)
    u_c, u_u = model.predict(x, 0.4, cond)[0], model.predict(x, 0.4, null)[0]
    for scale, want in ((1.0, u_c), (0.0, u_u), (3.0, u_u + 3 * (u_c - u_u))):
        torch.testing.assert_close(guided(model, cond, null, scale)(x, 0.4)[0], want)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_the_anagram_velocity_is_the_mean_of_each_views_inverse_velocity(model, view):
    """For views (identity, v) and prompts (a, b): u(x) = (u_a(x) + v^-1 u_b(v x)) / 2 at any time, by hand; an
    involutive view (v = v^-1) makes the anagram equivariant: u_ab(v x) = v u_ba(x)."""
    v, x, null = VIEWS[view], noise(2), torch.zeros(1, 3, dtype=torch.float64)
    a, b = onehot(0), onehot(2)
    u = lambda c, y: model.predict(y, 0.3, c.expand(len(y), 3))[0]  # noqa: E731
    got = alg.anagram(model, [a, b], null, 1.0, [VIEWS["identity"], v])(x, 0.3)[0]
    torch.testing.assert_close(got, (u(a, x) + v.inverse(u(b, v(x)))) / 2)
    if torch.equal(v(v(x)), x):
        swapped = alg.anagram(model, [b, a], null, 1.0, [VIEWS["identity"], v])
        torch.testing.assert_close(alg.anagram(model, [a, b], null, 1.0, [VIEWS["identity"], v])(v(x), 0.3)[0],
                                   v(swapped(x, 0.3)[0]))


@pytest.mark.parametrize("components", [alg.frequency_bands([(5, 1.0)]), alg.frequency_bands([(5, 1.5), (3, 0.5)]),
                                        alg.gray_and_color()], ids=["two bands", "three bands", "gray / colour"])
def test_factorized_components_sum_to_the_identity(model, components):
    """sum_k f_k(e) = e, so the factorized velocity with one prompt for every component is the guided one."""
    e = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(sum(f(e) for f in components), e)
    if len(components) == 2 and components[0] is not alg.grayscale:
        x, null = noise(2), torch.zeros(2, 3, dtype=torch.float64)
        same = alg.factorized(model, [onehot(0, 1)] * 2, null, 3.0, components)(x, 0.6)[0]
        torch.testing.assert_close(same, guided(model, onehot(0, 1), null, 3.0)(x, 0.6)[0])


def test_inpainting_keeps_the_known_region_and_ends_on_it_exactly(model):
    """After each Euler step the known region is the original interpolated towards fresh noise (standardised:
    N(0, 1)); after the last (t = 1) it is the original itself; the new region follows the prompt's mean."""
    x_orig = model.means[0:1].expand(2000, -1, -1, -1).clone()
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., :4, :] = 1
    process, seen = FlowProcess(0.05), []

    def observe(t, x):
        if t < 1:
            z = (x[..., 4:, :] - t * x_orig[..., 4:, :]) / (1 - t)
            seen.append((z.mean().item(), z.std().item()))
        else:
            seen.append(None)
    out = alg.inpaint(process, x_orig, mask, process.grid(), conditional(model, onehot(1)),
                      torch.Generator().manual_seed(4), observe=observe)
    assert len(seen) == 20 and seen[-1] is None
    for mean, std in seen[:-1]:
        assert abs(mean) < 0.02 and std == pytest.approx(1.0, abs=0.02)
    assert torch.equal(out[..., 4:, :], x_orig[..., 4:, :])
    torch.testing.assert_close(out[..., :4, :].mean(0), model.means[1][..., :4, :], atol=0.05, rtol=0)


def test_sdedit_projects_onto_the_data_more_the_earlier_it_starts(model):
    """An off-manifold image (mu + 0.5): a start near the image (t_start 0.98) keeps it, one near the noise (0.02)
    lands on the data's mean."""
    process = FlowProcess(0.02)
    grid = process.grid()
    x0 = (model.means[0:1] + 0.5).expand(500, -1, -1, -1)
    predictor = conditional(model, onehot(0))
    late = alg.sdedit(process, x0, grid, process.index(0.98, grid), predictor, torch.Generator().manual_seed(5))
    early = alg.sdedit(process, x0, grid, process.index(0.02, grid), predictor, torch.Generator().manual_seed(5))
    assert (late.mean(0) - x0[0]).abs().max() < 0.05
    assert (early.mean(0) - model.means[0]).abs().max() < 0.05


def test_a_flows_knobs_of_time_are_checked():
    """A step that is no whole number of Euler steps is the schema's to refuse (once, at the entry: params.yaml, the
    explorer's field); below it, an assertion. A start off the grid is the process's own to name."""
    import yaml

    from difflab.config.params import ParamError, check

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["parta"]["mnist_flow"]["common"]["step"] = 0.03
    with pytest.raises(ParamError, match=r"parta.mnist_flow.common.step=0.03 is not allowed; allowed: 1 / n for a "
                                         r"whole number n"):
        check(raw)
    with pytest.raises(AssertionError):
        FlowProcess(0.03)
    process = FlowProcess(0.05)
    assert process.grid() == [i * (1.0 / 20) for i in range(20)] and process.index(0.3, process.grid()) == 6
    with pytest.raises(InputError, match=r"t_start=0.33; allowed: a time i / 20 on the grid"):
        process.index(0.33, process.grid())
    with pytest.raises(InputError, match=r"t_start=1.0; allowed"):
        process.index(1.0, process.grid())


def test_euler_starts_anywhere_and_its_last_step_lands_on_one():
    """walk(): on the grid, the grid itself from its index (the outputs of before); off it, h apart from the start,
    the last step shortened to 1 (0.33 with h = 0.1: 0.33, 0.43, ..., 0.93, then 0.07); a start outside [0, 1)
    refused. Euler along a constant field u = c then moves x by exactly (1 - t_start) c: no step too many or too
    long, and the last one lands on 1."""
    process = FlowProcess(0.1)
    grid = process.grid()
    assert process.walk(0.3, grid) == (grid, 3)
    times, i = process.walk(0.33, grid)
    assert i == 0 and times == pytest.approx([0.33, 0.43, 0.53, 0.63, 0.73, 0.83, 0.93])
    assert process.walk(0.95, grid)[0] == pytest.approx([0.95])  # one step, of 0.05
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(InputError, match=rf"t_start={bad}; allowed: a time in \[0, 1\)"):
            process.walk(bad, grid)
    c = torch.full((2, 1, 8, 8), 0.5, dtype=torch.float64)
    seen = []
    for start in (0.33, 0.3, 0.0, 0.95):
        times, i = process.walk(start, grid)
        x = process.sample(lambda x, t: (c, None), torch.zeros_like(c), times, i, None,
                           on_step=lambda k, t, x: seen.append(t))
        torch.testing.assert_close(x, (1 - start) * c)
        assert seen[-1] == 1.0
    with pytest.raises(AssertionError, match="a flow's times .from walk. must increase within"):  # walk makes them
        process.sample(lambda x, t: (c, None), c, [0.5, 0.4], 0, None)


def test_sdedit_from_a_time_off_the_grid_lands_between_its_neighbours(model):
    """The exact field of Gaussian data: SDEdit from t_start = 0.45 (between 0.4 and 0.5 of h = 0.1) keeps the
    original's pull between the two starts on the grid, as a start between them should; the engine walks it."""
    process = FlowProcess(0.1)
    engine = Engine(model, process, lambda *p: onehot(*[int(q) for q in p]), 1.0, 5)
    x0 = model.means[0:1].expand(400, -1, -1, -1)
    predictor = conditional(model, onehot(1))

    def kept(start):
        grid, i = engine.walk(start)
        out = engine.sdedit(x0, i, predictor, torch.Generator().manual_seed(5), grid=grid)
        return (out.mean(0) - model.means[1]).abs().mean().item()  # how far from the prompt's mean: the input kept

    assert kept(0.4) < kept(0.45) < kept(0.5)


def test_the_engine_samples_a_flow_model_from_its_seeded_noise(model):
    """Engine.sample is Euler from the noise its seeded generator draws, the same for one seed, the step's end
    marker exactly 1 even where n (1 / n) is not 1 in floating point (n = 49)."""
    conds = lambda *prompts: onehot(*[int(p) for p in prompts])  # noqa: E731
    engine = Engine(model, FlowProcess(1 / 49), conds, 1.0, seed=7)
    ends = []
    x = engine.sample(engine.conditional("1"), 3, on_step=lambda i, t, x: ends.append((i, t)))
    g = torch.Generator().manual_seed(7)
    x_T = torch.randn(3, 1, 8, 8, generator=g)
    torch.testing.assert_close(x, alg.iterative_denoise(engine.process, x_T, engine.grid, 0,
                                                        conditional(model, onehot(1)), g))
    assert ends[0][0] == 0 and ends[-1] == (48, 1.0)


def test_the_explorers_anagram_bands_and_draw_work_run_on_a_flow_model():
    """The tabs' work (explore/anagram.py, bands.py, draw.py) takes the run's class flow model as it takes the
    DDPM: the engine's Euler steps of EngineSettings.step, the same pixels as the engine's own sample / sdedit."""
    from difflab.config.params import ParamError
    from difflab.config.runtime import Runtime
    from difflab.explore import bands, draw
    from difflab.explore.anagram import AnagramSettings, against_model, make
    from difflab.explore.fields import engine_of
    from difflab.models.unet import UNet
    from difflab.parta.load import part_a_model

    torch.manual_seed(0)
    model = part_a_model(UNet(4, "class"), {"objective": "flow"}, Runtime(torch.device("cpu"), "fp32"))
    e = engine_of("flow_class", 3.0, 9, 5, "DDIM", 0.0, 0.1)  # the page's fields: a flow reads step and scale
    engine = against_model(model, e)
    assert isinstance(engine.process, FlowProcess) and len(engine.grid) == 10
    got = make(model, AnagramSettings((6, 9), ("identity", "flip"), e, count=2))
    assert torch.equal(got, engine.sample(engine.anagram(["6", "9"], [VIEWS["identity"], VIEWS["flip"]]), 2))
    blurs = ((5, 1.0),)
    got = bands.make(model, bands.BandSettings((0, 7), blurs, e, count=2))
    assert torch.equal(got, engine.sample(engine.factorized([["0"], ["7"]], alg.frequency_bands(blurs)), 2))
    x0 = torch.rand(1, 1, 28, 28)
    out, frames, labels = draw.edit(model, x0, draw.EditSettings("SDEdit", e, "3", start=0.4, every=2))
    assert torch.equal(out, engine.sdedit(x0, 4, engine.guided("3")))
    assert labels == ["t = 0.40 (start)", "t = 0.60", "t = 0.80"]
    with pytest.raises(ParamError, match="step=0.3 is not allowed; allowed: 1 / n"):
        engine_of("flow_class", 3.0, 9, 5, "DDIM", 0.0, 0.3)


# -- the course's 1.4 (2026), "visualizing velocity": the update to the clean image, predicted and true ----------

def test_the_predicted_update_is_the_true_one_for_a_point_mass_on_either_process(model):
    """Where the data are one image (s = 0) the exact estimate's update from x_t is exactly x1 - x_t: for the flow
    (1 - t) u, for a DDPM x0_hat - x_t from the exact noise estimate; with spread it is E[x1 | x_t] - x_t. Catches
    an update of t u instead of (1 - t) u, or the estimate itself returned (no "- x_t")."""
    from difflab.core.ddpm import linear_alphas_cumprod
    from difflab.core.processes import DDPMProcess

    flow, g = FlowProcess(0.02), torch.Generator().manual_seed(4)
    for t in (0.25, 0.5, 0.75):
        x_t = alg.forward(flow, model.means[0:1], t, g)
        spread = alg.predicted_update(flow, x_t, t, conditional(model, onehot(0)))
        torch.testing.assert_close(spread, model.clean_mean(x_t, t, onehot(0)) - x_t)
    model.s = 0.0
    for t in (0.25, 0.5, 0.75):
        x_t = alg.forward(flow, model.means[0:1], t, g)
        torch.testing.assert_close(alg.predicted_update(flow, x_t, t, conditional(model, onehot(0))),
                                   model.means[0:1] - x_t)
    alphas = linear_alphas_cumprod(300, 1e-4, 0.02).double()
    ddpm, x0 = DDPMProcess(alphas), model.means[1:2]

    def exact_eps(x, t):  # the noise that took x0 to x: (x - sqrt(ab) x0) / sqrt(1 - ab)
        ab = alphas[t].item()
        return (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab), None

    for t in (75, 150, 225):
        x_t = alg.forward(ddpm, x0, t, g)
        torch.testing.assert_close(alg.predicted_update(ddpm, x_t, t, exact_eps), x0 - x_t)


def test_the_update_figure_shares_one_symmetric_scale_across_times(tmp_path):
    """update_rows: one limit L for both signed rows at every t (the largest |update| of any column), errors from 0
    to the largest RMS error of any column; the figure is written."""
    from difflab.reporting.figures import update_rows

    predicted = torch.zeros(3, 1, 4, 4)
    true = torch.zeros(3, 1, 4, 4)
    predicted[0, 0, 0, 0], true[2, 0, 1, 1] = 0.5, -2.0  # the largest |update| in the last column, the true row
    limit, worst = update_rows(torch.rand(3, 1, 4, 4), predicted, true, tmp_path / "v.png", "t",
                               ["t = 0.25", "t = 0.50", "t = 0.75"])
    assert limit == 2.0 and worst == 2.0 and (tmp_path / "v.png").stat().st_size > 0
