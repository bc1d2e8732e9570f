"""evaluation.parta: the settings it refuses before any sampling, and an anagram's success rates counted on images
whose judge labels are known (the sampler replaced by fixed images, test_judge.PixelJudge as the judge)."""

import csv
from types import SimpleNamespace

import pytest
import torch
from test_judge import PixelJudge

from difflab.config.metric_files import AnagramRates, PartA
from difflab.config.params import ParamError
from difflab.config.schema import Anagram, Anagrams, Factorization, Factorized, MnistExperiments
from difflab.data.mnist import CLASSES
from difflab.evaluation import parta
from difflab.evaluation.parta import Bench, anagrams, checked_settings, write_figures
from difflab.core.ddpm import linear_alphas_cumprod
from difflab.core.objectives import DDPM
from difflab.core.processes import DDPMProcess
from difflab.parta import algorithms as alg
from difflab.parta.engine import Engine
from difflab.sampling.labels import one_hot_prompts
from difflab.core.views import ViewError

CPU = torch.device("cpu")
MODEL = SimpleNamespace(classes=CLASSES["mnist"], image_size=28, channels=1, name="mnist", device=CPU,
                        null_prompt="", to_model=lambda x: 2 * x - 1, predicts_variance=False,
                        objective=DDPM(linear_alphas_cumprod(10, 1e-4, 0.02)))
BANDS = {"kind": "bands", "prompts": ["1", "2", "3"]}


def bench(anagram_list, items=(BANDS,)) -> Bench:
    """A Bench on parta.mnist's anagram and factorized sections holding these entries, unchecked (the settings
    checked_settings must refuse are among them)."""
    cfg = MnistExperiments.model_construct(
        anagram=Anagrams.model_construct(anagrams=[Anagram.model_construct(**e) for e in anagram_list]),
        factorized=Factorized.model_construct(items=[Factorization.model_construct(**i) for i in items]))
    engine = Engine(MODEL, DDPMProcess(linear_alphas_cumprod(10, 1e-4, 0.02)),
                    lambda *prompts: one_hot_prompts(list(prompts), MODEL.classes), 1.0, 0)
    return Bench(engine, PixelJudge(), cfg, seeds=4, batch_size=3)


def test_views_and_factorized_items_are_checked_before_any_sampling():
    views = checked_settings(bench([{"views": ["identity", "flip"], "prompts": ["3", "7"]},
                                    {"views": ["identity", "rot90", "negate"], "prompts": ["1", "2", "3"]}]))
    assert [[v.name for v in vs] for vs in views] == [["identity", "flip"], ["identity", "rot90", "negate"]]
    with pytest.raises(ViewError, match=r"views \['spin'\]: unknown"):
        checked_settings(bench([{"views": ["identity", "spin"], "prompts": ["3", "7"]}]))
    colour = {"kind": "color", "prompts": ["1", "2"]}
    with pytest.raises(ParamError, match=r"factorized.items \[.*'color'.*\] need colour images; the .* model's have 1 "
                                         r"channel\(s\), no colour; allowed there: kind 'bands'"):
        checked_settings(bench([], items=(BANDS, colour)))


def test_an_anagram_succeeds_only_where_every_view_is_judged_right(monkeypatch):
    """Catches success counted where any view is right, or per view instead of per image: four images whose first
    row PixelJudge reads as the upright digit and whose last row (row 0 upside down) as the flipped one; two are
    right both ways, one only upright, one only upside down."""
    upright, flipped = [3, 3, 3, 5], [7, 7, 1, 7]
    x = torch.zeros(4, 1, 28, 28)
    for i, (a, b) in enumerate(zip(upright, flipped)):
        x[i, 0, 0, a] = x[i, 0, 27, b] = 1.0
    monkeypatch.setattr(alg, "anagram", lambda *args, **kwargs: None)
    monkeypatch.setattr(alg, "iterative_denoise", lambda *args, **kwargs: x.clone())
    b = bench([{"views": ["identity", "flip"], "prompts": ["3", "7"]}])
    got = anagrams(b, checked_settings(b))
    assert got == {"identity-3_flip-7": AnagramRates(success=0.5, ok={"identity": 0.75, "flip": 0.75})}


def test_sdedit_rows_reach_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(parta, "success_bars", lambda *args, **kwargs: None)
    monkeypatch.setattr(parta, "metric_curve", lambda *args, **kwargs: None)
    write_figures(tmp_path, PartA.model_construct(anagram={}, hybrid={}, bands={}), [(2, 270, 0.25),
                                                                                     (5, 120, 0.123456789)], 4, 3.0)
    with open(tmp_path / "sdedit_faithfulness.csv") as f:
        assert list(csv.reader(f)) == [["i_start", "t", "label_kept"], ["2", "270", "0.25"], ["5", "120", "0.123457"]]
