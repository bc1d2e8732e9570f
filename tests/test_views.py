"""Anagram views (orthogonal pixel transforms) and factorizations (components that sum to the identity), and the
predictors built on them, against hand-computed cases."""

from typing import get_args

import pytest
import torch
from test_algorithms import GaussianModel, cosine_schedule, noise, onehot, three_means_model

from difflab.config.params import ParamError
from difflab.config.schema import (Anagram, Anagrams, Blur, Factorization, Factorized, Forward, MnistCommon,
                                   MnistExperiments)
from difflab.parta import algorithms as alg
from difflab.core.views import JIGSAW_PERMUTATION, VIEWS, ViewError, views_for


def matrix(f, shape=(2, 8, 8)) -> torch.Tensor:
    """The matrix of a linear map on images of `shape`: column j is f(basis image j)."""
    n = torch.tensor(shape).prod().item()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    return f(basis).reshape(n, n).T


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_view_is_orthogonal_with_its_inverse(name):
    view = VIEWS[name]
    a = matrix(view)
    torch.testing.assert_close(a.T @ a, torch.eye(len(a), dtype=torch.float64))
    torch.testing.assert_close(matrix(view.inverse), a.T)  # the inverse is the transpose
    assert set(a.abs().sum(0).tolist()) == {1.0} and set(a.abs().unique().tolist()) <= {0.0, 1.0}  # a signed
    torch.testing.assert_close(matrix(view.unpermute), a.T.abs())  # permutation; unpermute is its unsigned inverse
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(view.inverse(view(x)), x)


def test_views_by_hand():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    want = {"identity": [[0, 1], [2, 3]], "flip": [[2, 3], [0, 1]], "rot90": [[1, 3], [0, 2]],
            "rot180": [[3, 2], [1, 0]], "rot270": [[2, 0], [3, 1]], "transpose": [[0, 2], [1, 3]],
            "negate": [[0, -1], [-2, -3]]}
    for name, grid in want.items():
        assert VIEWS[name](x)[0, 0].tolist() == grid, name
    # jigsaw on 4 x 4 one-pixel pieces: piece i (row-major) takes piece (7 i + 3) mod 16; every piece moves
    pieces = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert VIEWS["jigsaw"](pieces).flatten().tolist() == [float((7 * i + 3) % 16) for i in range(16)]
    assert all(p != i for i, p in enumerate(JIGSAW_PERMUTATION))
    # and on 8 x 8, whole 2 x 2 pieces move
    big = VIEWS["jigsaw"](torch.arange(64.0).reshape(1, 1, 8, 8))
    assert big[0, 0, :2, :2].tolist() == [[6.0, 7.0], [14.0, 15.0]]  # piece 0 <- piece 3 (top right)


@pytest.fixture
def model():
    return three_means_model(learned_variance=0.3)


@pytest.mark.parametrize("name", [v for v in VIEWS if v != "identity"])
def test_the_anagram_predictor_is_equivariant_under_each_view(model, name):
    """With views (identity, v) and prompts (a, b): v(P(x)) is the anagram predictor with views (v^-1, identity) and
    the same prompts, at v(x) (Visual Anagrams, eq. 4); the variance moves with the pixels but keeps its sign. All
    four estimates (two views, conditional and unconditional) in one model call."""
    v, x, null = VIEWS[name], noise(3), torch.zeros(3, 3, dtype=torch.float64)
    a, b = onehot(0, 1, 2), onehot(2, 0, 1)
    model.calls = 0
    eps, var = alg.anagram(model, [a, b], null, 5.0, [VIEWS["identity"], v])(x, 600)
    assert model.calls == 1
    eps2, var2 = alg.anagram(model, [a, b], null, 5.0, [v.inverted(), VIEWS["identity"]])(v(x), 600)
    torch.testing.assert_close(v(eps), eps2)
    torch.testing.assert_close(v.permute(var), var2)
    torch.testing.assert_close(var, torch.full_like(var, 0.3))  # the model's own (constant) variance, unsigned
    assert not torch.allclose(eps, alg.guided(model, a, null, 5.0)(x, 600)[0])  # both prompts count


def test_a_three_view_anagram_averages_each_view_mapped_back(model):
    x, null = noise(2), torch.zeros(2, 3, dtype=torch.float64)
    conds, names = [onehot(0, 1), onehot(1, 2), onehot(2, 0)], ["identity", "rot90", "jigsaw"]
    views = [VIEWS[n] for n in names]
    model.calls = 0
    eps, _ = alg.anagram(model, conds, null, 2.0, views)(x, 400)
    assert model.calls == 1
    by_hand = sum(v.inverse(alg.guided(model, c, null, 2.0)(v(x), 400)[0]) for v, c in zip(views, conds)) / 3
    torch.testing.assert_close(eps, by_hand)
    with pytest.raises(AssertionError, match="2 conditions for 3 views"):
        alg.anagram(model, conds[:2], null, 2.0, views)


def test_views_are_checked_against_the_model():
    mnist = GaussianModel(torch.zeros(1, 1, 8, 8), 0.2, cosine_schedule(), torch.zeros(1, 1, 8, 8))  # [0, 1] range
    mnist.name = "mnist"
    assert [v.name for v in views_for(["identity", "jigsaw", "rot90"], mnist)] == ["identity", "jigsaw", "rot90"]
    with pytest.raises(ViewError, match=r"views \['spin'\]: unknown; allowed: identity, flip"):
        views_for(["identity", "spin"], mnist)
    with pytest.raises(ViewError, match="2 or 3 different views"):
        views_for(["flip", "flip"], mnist)
    with pytest.raises(ViewError, match="2 or 3 different views"):
        views_for(["identity", "flip", "rot90", "rot180"], mnist)
    with pytest.raises(ViewError, match=r"'negate' needs a value range symmetric about zero; the mnist model's images "
                                        r"range over \[0, 1\]"):
        views_for(["identity", "negate"], mnist)
    mnist.image_size = 30
    with pytest.raises(ViewError, match="30 x 30 images do not divide; allowed: sides divisible by 4"):
        views_for(["identity", "jigsaw"], mnist)

    class Symmetric(GaussianModel):
        def to_model(self, x):
            return 2 * x - 1
    symmetric = Symmetric(torch.zeros(1, 1, 8, 8), 0.2, cosine_schedule(), torch.zeros(1, 1, 8, 8))
    assert views_for(["identity", "negate"], symmetric)[1].name == "negate"


def test_params_name_the_views_this_module_implements():
    (allowed,) = get_args(Anagram.model_fields["views"].annotation)  # list[Literal[<the view names>]]
    assert get_args(allowed) == tuple(VIEWS)


@pytest.mark.parametrize("components", [alg.frequency_bands([(5, 1.0)]), alg.frequency_bands([(7, 2.0), (3, 0.5)]),
                                        alg.gray_and_color()])
def test_factorization_components_sum_to_the_identity(components):
    e = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(sum(f(e) for f in components), e)
    parts = [f(e) for f in components]
    assert all(p.abs().mean() > 1e-3 for p in parts)  # no component is empty


def test_three_bands_and_gray_color_by_hand():
    e = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    low, mid, high = alg.frequency_bands([(7, 2.0), (3, 0.5)])
    wide, narrow = alg.gaussian_blur(e, 7, 2.0), alg.gaussian_blur(e, 3, 0.5)
    torch.testing.assert_close(low(e), wide)
    torch.testing.assert_close(mid(e), narrow - wide)
    torch.testing.assert_close(high(e), e - narrow)
    gray, color = alg.gray_and_color()
    rgb = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64).reshape(1, 3, 1, 1).expand(1, 3, 2, 2)
    torch.testing.assert_close(gray(rgb), torch.full((1, 3, 2, 2), 0.5, dtype=torch.float64))
    torch.testing.assert_close(color(rgb)[0, :, 0, 0], torch.tensor([-0.3, 0.0, 0.3], dtype=torch.float64))
    with pytest.raises(AssertionError, match="sigmas must decrease"):  # the schema and the explorer refuse them
        alg.frequency_bands([(3, 0.5), (7, 2.0)])
    with pytest.raises(AssertionError, match="1-channel images have no colour"):  # check_against_model refuses it
        gray(torch.zeros(1, 1, 4, 4))


def test_three_band_predictor_takes_each_band_from_its_prompt(model):
    x, null = noise(2), torch.zeros(2, 3, dtype=torch.float64)
    bands = alg.frequency_bands([(5, 1.5), (3, 0.5)])
    conds = [onehot(0, 0), onehot(1, 1), onehot(2, 2)]
    model.calls = 0
    eps, _ = alg.factorized(model, conds, null, 3.0, bands)(x, 300)
    assert model.calls == 1
    sources = [alg.guided(model, c, null, 3.0)(x, 300)[0] for c in conds]
    torch.testing.assert_close(eps, sum(f(s) for f, s in zip(bands, sources)))
    same = alg.factorized(model, [conds[1]] * 3, null, 3.0, bands)(x, 300)[0]
    torch.testing.assert_close(same, sources[1])


@pytest.mark.parametrize("section, error, message", [
    ({"factorized": Factorized(kernel_sizes=[5, 3], sigmas=[1.5, 0.5],
                               items=[Factorization(kind="color", prompts=["1", "2"])])},
     ParamError, r"parta.gaussian.factorized.items \[.*'color'.*\] need colour images; the gaussian model's have 1 "
                 r"channel\(s\), no colour; allowed there: kind 'bands'"),
    ({"anagram": Anagrams(anagrams=[Anagram(views=["identity", "negate"], prompts=["1", "2"])])},
     ViewError, "'negate' needs a value range symmetric about zero"),
    ({"blur": Blur(kernel_size=17, sigma=2.0)},
     ParamError, r"parta.gaussian.blur.kernel_size=17 is not allowed; allowed: an odd number below 16 for the "
                 r"model's 8x8 images"),
    ({"factorized": Factorized.model_construct(kernel_sizes=[21, 3], sigmas=[1.5, 0.5], items=[])},
     ParamError, r"parta.gaussian.factorized.kernel_sizes=21 is not allowed"),
    ({"common": MnistCommon.model_construct(stride=100, sampler="ddpm", ddim_eta=0.0, variance="learned_range",
                                            guidance_scale=3.0)},
     ParamError, r"parta.gaussian.common.variance='learned_range' is not allowed: the gaussian model predicts no "
                 r"variance; allowed there: fixed_small, fixed_large"),
])
def test_what_only_the_model_can_judge_is_refused_before_any_work(section, error, message, tmp_path):
    """On a [0, 1], one-channel 8 x 8 model that predicts no variance (the MNIST model's kind), part A's settings
    that the model cannot take stop the run as its context is made, naming the key: before any experiment runs, so
    no figure is half made (below that entry the algorithms only assert)."""
    from difflab.parta.experiments import Context
    model = three_means_model()
    common = MnistCommon.model_construct(stride=100, sampler="ddpm", ddim_eta=0.0, variance="fixed_small",
                                         guidance_scale=3.0)
    fine = MnistExperiments.model_construct(common=common, blur=Blur(kernel_size=15, sigma=2.0),
                                            anagram=Anagrams(anagrams=[Anagram(views=["identity", "flip"],
                                                                               prompts=["1", "2"])]))
    Context.of(model, None, fine, 0, tmp_path)  # the widest kernel an 8 x 8 image takes, views it can take
    model.calls = 0
    with pytest.raises(error, match=message):
        Context.of(model, None, MnistExperiments.model_construct(**{"common": common, **section}), 0, tmp_path)
    assert model.calls == 0 and not list(tmp_path.iterdir())


def test_forward_timesteps_past_the_models_schedule_are_refused_before_any_work(model, tmp_path):
    """The parta stage does not read ddpm.num_timesteps, so the experiment checks forward.timesteps against the
    model's own T (1000 here) and names the key, instead of an IndexError deep in the forward process."""
    from difflab.errors import InputError
    from difflab.parta.experiments import Context, run
    cfg = MnistExperiments.model_construct(
        common=MnistCommon.model_construct(stride=100, sampler="ddpm", ddim_eta=0.0, variance="fixed_small",
                                           guidance_scale=3.0, test_image="builtin:clipart"),
        forward=Forward(timesteps=[250, 1000]))
    with pytest.raises(InputError, match=r"parta.gaussian.forward.timesteps=\[250, 1000\] is not allowed; "
                                         r"allowed: timesteps in 0 .. 999 \(T = 1000\)"):
        run("forward", Context.of(model, None, cfg, 0, tmp_path))
    assert not list(tmp_path.iterdir())
