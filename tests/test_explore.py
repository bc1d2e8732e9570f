"""The explorer (difflab/explore, make explore): its grid for a seed is the library's, pixel for pixel, at the
same batching (the run's sample_batch_size, as the sample stages draw: every comparison here batches both sides
alike, as other batch shapes may round differently on some CPUs), and so are its reverse process' last frame, its
anagrams, its frequency bands and its edits of a drawn or test digit, inside a box or a mask painted by hand (part
A's engine called as part A calls it); a cancel flag stops the loop after the step under way; bad input gets a
message naming what is allowed; the loaded models are a bounded least-recently-used cache; gradio_client calls the
named API (/sample with its parameters in words) and gets the library's grid; and in headless Chromium the page
samples, serves two pages at once, steps through the reverse process, cancels, shows an error and keeps serving,
makes anagrams and bands, edits a drawing, inpaints a painted mask, and asks nothing of any host but 127.0.0.1. Tiny
untrained models in a temporary git + DVC repository, read through dvc.api as any run's are."""

import contextlib
import io
import math
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from helpers import free_port, launch_chromium
from PIL import Image

from PIL import ImageDraw

from difflab.config.runtime import Runtime
from difflab.config.schema import Factorization, Factorized, MnistExperiments
from difflab.core.noise import image_generators, randn
from difflab.core.predictor import guided
from difflab.core.timesteps import timesteps
from difflab.data.mnist import write_idx
from difflab.errors import InputError
from difflab.evaluation.parta import Bench
from difflab.evaluation.parta import bands as library_bands
from difflab.explore import bands
from difflab.explore.anagram import AnagramSettings, make, seen
from difflab.explore.draw import EditSettings, edit, from_drawing, mask_from_strokes, mnist_digit
from difflab.explore.runs import MAX_JUDGES, MAX_MODELS, RunError, Runs
from difflab.parta.load import part_a_model
from difflab.reporting.compare_page import known_experiments
from difflab.explore.fields import blurs_of, box_of, engine_of, settings_of, start_of
from difflab.explore.sample import SCALE, Settings, draw, parse_digits, picture, verdicts
from difflab.explore.steps import Cancelled, Cancels, Frames
from difflab.models.checkpoints import save_model
from difflab.models.judge import Judge
from difflab.models.unet import UNet
from difflab.parta.engine import Engine
from difflab.parta import algorithms as alg
from difflab.parta.images import load_image, make_mask
from difflab.core.views import views_for
from difflab.reporting.figures import tile
from difflab.sampling.generate import generate
from difflab.sampling.grids import Grid
from difflab.sampling.grids import draw as library_grid
from difflab.sampling.labels import one_hot_prompts

pytestmark = pytest.mark.slow  # a git + DVC repository of runs and the page in headless Chromium

SCHEDULE = {"num_timesteps": 50, "beta_start": 1e-4, "beta_end": 0.02}
CPU = Runtime(torch.device("cpu"), "fp32")


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A git + DVC repository whose HEAD has params.yaml only and whose workspace has trained-looking models."""
    repo = tmp_path_factory.mktemp("runs")
    git(repo, "init", "-q")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    (repo / "params.yaml").write_text("ddpm_class:\n  hidden: 4\n  guidance_scale: 3.0\ndata:\n  dir: data/dataset\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "params only")
    torch.manual_seed(0)
    for name, objective in (("ddpm_class", "ddpm"), ("flow_class", "flow")):
        unet = UNet(4, "class")
        save_model(repo / "models" / name / "final.safetensors", unet.state_dict(),
                   {"hidden": 4, "conditioning": "class", "objective": objective, "epoch": 1, **SCHEDULE})
    save_model(repo / "models" / "judge" / "final.safetensors", Judge().state_dict(), {"kind": "judge", "epoch": 1})
    digits = np.zeros((3, 28, 28), np.uint8)  # a test set of three digits: bars of different places
    for k in range(3):
        digits[k, 4 + 6 * k: 10 + 6 * k, 6:22] = 255
    (repo / "data" / "dataset").mkdir(parents=True)
    write_idx(repo / "data" / "dataset" / "t10k-images-idx3-ubyte", digits)
    write_idx(repo / "data" / "dataset" / "t10k-labels-idx1-ubyte", np.array([7, 2, 1], np.uint8))
    return repo


@pytest.fixture(scope="module")
def batched(repo, tmp_path_factory):
    """The same runs, but the workspace's params set sample_batch_size: 2, as a run's params.yaml does."""
    r = tmp_path_factory.mktemp("batched") / "r"
    shutil.copytree(repo, r)
    (r / "params.yaml").write_text((repo / "params.yaml").read_text() + "sample_batch_size: 2\n")
    return r


def settings(**changes) -> Settings:
    base = dict(digits=(3, 1, 4), rows=2, guidance_scale=3.0, num_steps=5, sampler="DDIM", eta=0.0,
                variance="fixed_small", seed=11)
    return Settings(**{**base, **changes})


def engine(scale=3.0, stride=10, seed=5, eta=None, step=0.02, model="ddpm_class"):
    """The part A tabs' engine settings as the page reads its fields (fields.engine_of): the DDPM step where eta is
    None, else DDIM with that eta; the flow model reads the step alone."""
    return engine_of(model, scale, stride, seed, "DDPM step" if eta is None else "DDIM", eta or 0.0, step)


def test_the_grid_is_the_librarys_for_the_same_seed(repo):
    """At the same batching the explorer's grid is the library's bit for bit: two at a time as sampling/grids.py
    draws at sample_batch_size 2, and all at once as generate() takes them by default."""
    runs = Runs(repo)
    unet, meta = runs.model("workspace", "ddpm_class")
    # the DDPM step: exactly sampling/grids.py's seeded grid, both two at a time
    s = settings(sampler="DDPM step")
    digits = list(s.digits) * s.rows
    want = library_grid(unet, meta, Grid(digits, len(digits), "", []), s.guidance_scale,
                        s.num_steps, s.seed, CPU, batch_size=2, progress=None)
    assert torch.equal(draw(unet, meta, s, CPU, batch_size=2), want)
    # DDIM with eta and a flow model's Euler steps: generate() from the seeded noise, all at once and two at a time
    for model, s in (("ddpm_class", settings(eta=0.5)), ("flow_class", settings(sampler="flow Euler"))):
        unet, meta = runs.model("workspace", model)
        for batch_size in (None, 2):
            gens = image_generators(s.seed, len(digits))
            want = generate(unet, meta, randn((len(digits), 1, 28, 28), gens), gens, digits, s.guidance_scale,
                            num_steps=s.num_steps, eta=s.eta if model == "ddpm_class" else None,
                            batch_size=batch_size)
            assert torch.equal(draw(unet, meta, s, CPU, batch_size), want)
        assert np.array_equal(picture(want, 3), tile(want.clamp(0, 1), 3, scale=SCALE))
    with pytest.raises(InputError, match=r"batch_size=0; allowed: an integer >= 1"):  # generate()'s own check
        draw(unet, meta, s, CPU, batch_size=0)


def batch_sizes_of(unet: torch.nn.Module) -> list[int]:
    """A list that grows by the batch size of each call of the model (with CFG: twice the images of a batch)."""
    sizes: list[int] = []
    unet.register_forward_hook(lambda _m, args, _out: sizes.append(len(args[0])))
    return sizes


def test_the_explorer_draws_the_runs_sample_batch_size(repo, batched):
    """The Sample tab takes the images sample_batch_size at a time as the run's params.yaml sets it (all at once
    where it has none), so its grid is the stage's (sampling/grids.draw at that batch size) bit for bit, the last
    frame of its film is that grid, and the caption says how it was batched; a bad sample_batch_size is named."""
    from difflab.explore.handlers import batch_size_of, sample_one

    s = settings(sampler="DDPM step", num_steps=3)  # 6 images
    for r, batch_size, calls in ((batched, 2, [4] * 9), (repo, None, [12] * 3)):  # CFG: 2 x the batch, a call
        runs = Runs(r)
        unet, meta = runs.model("workspace", "ddpm_class")
        sizes = batch_sizes_of(unet)
        progress: list[tuple] = []
        image, caption, _, frames = sample_one(runs, CPU, "workspace", "ddpm_class", s,
                                               lambda done, **_: progress.append(done))
        assert sizes == calls
        assert progress == [(0, len(calls)), *((k + 1, len(calls)) for k in range(len(calls)))]
        digits = list(s.digits) * s.rows
        want = library_grid(unet, meta, Grid(digits, len(digits), "", []), s.guidance_scale,
                            s.num_steps, s.seed, CPU, batch_size=batch_size, progress=None)
        assert np.array_equal(image, picture(want, 3)) and np.array_equal(frames.pictures[-1], image)
        assert len(frames.pictures) == 4
        assert ("2 at a time" if batch_size else "all at once") + " (sample_batch_size)" in caption
    assert batch_size_of({"sample_batch_size": 5}, "w") == 5 and batch_size_of({}, "w") is None
    for bad in (0, -1, 2.5, "8", True):
        with pytest.raises(InputError, match=rf"run 'w', in its params.yaml: sample_batch_size={re.escape(repr(bad))} "
                                             r"is not allowed; allowed: (a valid integer|greater than or equal to 1)"):
            batch_size_of({"sample_batch_size": bad}, "w")


def test_the_reverse_process_keeps_every_kth_step_and_ends_on_the_grid(repo):
    """The Sample tab's film: the noise, every k-th step (k so that at most `limit` pictures are kept) and the last
    step, whose picture is the grid's; each kept picture is x after that step."""
    unet, meta = Runs(repo).model("workspace", "ddpm_class")
    for s, limit, kept in ((settings(sampler="DDPM step", num_steps=20), 8, [3, 6, 9, 12, 15, 18, 20]),
                           (settings(num_steps=5), 50, [1, 2, 3, 4, 5])):
        xs: list[torch.Tensor] = []
        frames = Frames(3, limit)
        x = draw(unet, meta, s, CPU, on_step=lambda i, _t, x: xs.append(x.clone()), frames=frames)
        assert len(frames.pictures) == len(kept) + 1 <= limit
        gens = image_generators(s.seed, 6)
        assert np.array_equal(frames.pictures[0], picture(randn((6, 1, 28, 28), gens), 3))
        assert all(np.array_equal(f, picture(xs[k - 1], 3)) for f, k in zip(frames.pictures[1:], kept))
        assert np.array_equal(frames.pictures[-1], picture(x, 3))  # the last frame is the grid shown
        assert frames.labels[0] == "the noise (step 0)"
        assert frames.labels[-1] == f"step {kept[-1]} of {kept[-1]}: the result"
    # drawn in batches of 4 and 2, one after the other through every step: a kept step's picture is made of both
    # batches' x after that step, once the second has passed it
    s = settings(sampler="DDPM step", num_steps=6)
    xs = []
    frames = Frames(3, 4)  # every 2nd step
    x = draw(unet, meta, s, CPU, 4, on_step=lambda i, _t, x: xs.append(x.clone()), frames=frames)
    assert [len(b) for b in xs] == [4] * 6 + [2] * 6
    assert [np.array_equal(f, picture(torch.cat([xs[k - 1], xs[6 + k - 1]]), 3)) for f, k in
            zip(frames.pictures[1:], (2, 4, 6))] == [True] * 3
    assert len(frames.pictures) == 4 and np.array_equal(frames.pictures[-1], picture(x, 3))
    assert frames.labels[1:] == ["step 2 of 6: t = 29", "step 4 of 6: t = 10", "step 6 of 6: the result"]
    frames = Frames(3, 50)
    frames.start(torch.zeros(3, 1, 28, 28), 1000)  # a 1000-step flow model keeps every 21st step: 49 frames
    assert frames.every == 21


def test_bad_input_is_named_with_what_is_allowed(repo):
    runs = Runs(repo)
    with pytest.raises(RunError, match=r"run 'no-such-run' is neither a git revision nor an experiment DVC knows "
                                       r".*allowed: workspace, a git revision .* or one of the experiments \[\]"):
        runs.model("no-such-run", "ddpm_class")
    with pytest.raises(RunError, match=r"run 'HEAD' has no models/ddpm_class/final.safetensors here .*`dvc pull`.*"
                                       r"`dvc exp pull <remote> HEAD`.*`make run`"):
        runs.model("HEAD", "ddpm_class")
    assert runs.params("HEAD")["ddpm_class"]["guidance_scale"] == 3.0
    unet, meta = runs.model("workspace", "ddpm_class")
    for s, message in ((settings(num_steps=51), r"num_steps=51; allowed: 1 .. 50 \(T = 50\)"),
                       (settings(num_steps=None), r"num_steps=None; allowed: 1 .. 50"),
                       (settings(sampler="flow Euler"), "does not sample a ddpm model; allowed: DDPM step, DDIM"),
                       (settings(rows=0), r"rows=0; allowed: 1 .. 10")):
        with pytest.raises(InputError, match=message):
            draw(unet, meta, s, CPU)
    flow, flow_meta = runs.model("workspace", "flow_class")
    with pytest.raises(InputError, match=r"num_steps=1001; allowed: 1 .. 1000 Euler steps"):
        draw(flow, flow_meta, settings(sampler="flow Euler", num_steps=1001), CPU)
    # each field by the rule of the params knob it starts at, named as the params loader names it
    fields = dict(digits="3 1 4", rows=2, scale=3.0, steps=5, sampler="DDIM", eta=0.0, variance="fixed_small", seed=11)
    assert settings_of(**fields) == settings()
    for field, bad, message in (("eta", 2.0, "samplers.ddim_eta=2.0 is not allowed; allowed: less than or equal to 1"),
                                ("variance", "learned_range", "objectives.ddpm_variance='learned_range' is not "
                                                              "allowed; allowed: 'fixed_small' or 'fixed_large'"),
                                ("seed", -1, "seed=-1 is not allowed; allowed: greater than or equal to 0"),
                                ("scale", -1.0, "ddpm_class.guidance_scale=-1.0 is not allowed; allowed: greater "
                                                "than or equal to 0")):
        with pytest.raises(InputError, match=re.escape(message)):
            settings_of(**{**fields, field: bad})
    assert parse_digits("1,4-6 9") == (1, 4, 5, 6, 9)
    for text in ("", "  ", "12", "7-3", "a"):
        with pytest.raises(InputError, match="allowed: digits 0-9"):
            parse_digits(text)


def test_every_number_the_page_takes_is_finite():
    """inf and NaN typed in a field (or sent through the API), and an emptied field (None), are named and refused
    before any work by the rule of the knob the field starts at: an infinite CFG scale once passed the scale's
    check (>= 0), and an infinite row count crashed int() with no message."""
    fields = dict(digits="0-9", rows=1, scale=3.0, steps=5, sampler="DDIM", eta=0.0, variance="fixed_small", seed=0)
    part_a = dict(model="ddpm_class", scale=3.0, stride=10, seed=5, sampler="DDIM", eta=0.0, step=0.02)
    for bad in (math.inf, -math.inf, math.nan):
        for field, knob in (("scale", "ddpm_class.guidance_scale"), ("eta", "samplers.ddim_eta")):
            with pytest.raises(InputError, match=re.escape(f"{knob}={bad!r} is not allowed; allowed: a finite number")):
                settings_of(**{**fields, field: bad})
        for field, knob in (("scale", "guidance_scale"), ("eta", "ddim_eta")):
            with pytest.raises(InputError, match=re.escape(f"parta.mnist.common.{knob}={bad!r} is not allowed; "
                                                           "allowed: a finite number")):
                engine_of(**{**part_a, field: bad})
        with pytest.raises(InputError, match=re.escape(f"parta.mnist_flow.common.step={bad!r} is not allowed; "
                                                       "allowed: a finite number")):
            engine_of(**{**part_a, "model": "flow_class", "step": bad})
        with pytest.raises(InputError, match=re.escape(f"parta.mnist_flow.iterative.t_start={bad!r} is not allowed")):
            start_of(bad, "flow_class")
    with pytest.raises(InputError, match=re.escape("seed=inf is not allowed; allowed: a valid integer")):
        settings_of(**{**fields, "seed": math.inf})
    with pytest.raises(InputError, match=re.escape("ddpm_class.guidance_scale=None is not allowed; allowed: a valid "
                                                   "number")):
        settings_of(**{**fields, "scale": None})
    for text, message in (("9 inf", "parta.mnist.blur.sigma=inf is not allowed; allowed: a finite number"),
                          ("9 nan", "parta.mnist.blur.sigma=nan is not allowed; allowed: a finite number"),
                          ("9 2.0, 3 -inf", "parta.mnist.blur.sigma=-inf is not allowed; allowed: a finite number")):
        with pytest.raises(InputError, match=re.escape(message)):
            blurs_of(text, "ddpm_class")
    for text in ("0, nan, 0, 1", "0, 0.5, -inf, 1"):
        with pytest.raises(InputError, match=re.escape("parta.mnist.inpaint.masks=")):
            box_of(text, "ddpm_class")
    assert (blurs_of("9 2.0, 3 0.7", "ddpm_class"), box_of("0, 0.5, 0, 1", "flow_class")) == (
        ((9, 2.0), (3, 0.7)), (0.0, 0.5, 0.0, 1.0))
    assert (start_of(2.0, "ddpm_class"), start_of(0.4, "flow_class")) == (2, 0.4)


def first_fields(demo) -> dict:
    """The first value of each field of a built page, by its elem_id."""
    return {b.elem_id: b.value for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def test_the_page_starts_at_the_params_of_the_run_it_opens_on(repo, tmp_path):
    """A run whose params.yaml says ddpm_class.guidance_scale 5 gives the page's CFG scale 5, and its other knobs
    their fields (part A's stride and sampler, SDEdit's start in either model's time, the seed of every tab); a run
    lacking them (HEAD: only ddpm_class's hidden and guidance_scale) and a run that is not there open on the
    fallbacks, which are today's params.yaml values."""
    from difflab.explore.defaults import first_values, page_defaults
    from difflab.explore.page import build
    from difflab.explore.part_a_tabs import start_field

    r = tmp_path / "r"
    shutil.copytree(repo, r)
    (r / "params.yaml").write_text(
        "seed: 7\nddpm_class:\n  hidden: 4\n  guidance_scale: 5\n  samples_per_class: 2\ndata:\n  dir: data/dataset\n"
        "parta:\n  mnist:\n    common: {stride: 7, sampler: ddim, ddim_eta: 0.5}\n    iterative: {i_start: 3}\n"
        "  mnist_flow:\n    iterative: {t_start: 0.3}\n")
    shown = ("scale", "rows", "seed", "anagram-seed", "anagram-stride", "bands-sampler", "draw-eta", "draw-start",
             "draw-every")
    for runs, run, want in ((Runs(r), "workspace", (5, 2, 7, 7, 7, "DDIM", 0.5, 3, 5)),
                            (Runs(repo), "HEAD", (3.0, 4, 2718, 2718, 9, "DDPM step", 0.0, 10, 5))):
        fields = first_fields(build(runs, [run, "workspace"]))
        assert tuple(fields[k] for k in shown) == want, run
    assert start_field("flow_class", page_defaults(Runs(r), "workspace")) == {
        "value": 0.3, "label": "SDEdit t_start (0 = pure noise, 1 = the input; any time in [0, 1))"}
    fallbacks = page_defaults(Runs(repo), "no-such-run")  # the page opens; the first click names the run
    assert fallbacks == first_values({}, "no-such-run") and start_field("flow_class", fallbacks)["value"] == 0.5


def test_a_run_without_a_judge_shows_its_images_and_says_why(repo, tmp_path):
    """No judge in the run: the Sample and Anagram tabs' images all the same, no verdicts, and the caption naming
    what the run lacks (one way for every tab)."""
    from difflab.explore.handlers import anagram_one, sample_one

    r = tmp_path / "r"
    shutil.copytree(repo, r)
    shutil.rmtree(r / "models" / "judge")
    runs = Runs(r)
    why = "No judge in this run: the workspace has no models/judge/final.safetensors"
    image, caption, table, _ = sample_one(runs, CPU, "workspace", "ddpm_class", settings(num_steps=2),
                                          lambda *_, **__: None)
    assert image is not None and why in caption and table == []
    s = AnagramSettings((6, 9), ("identity", "flip"), engine(3.0, 25, 5), count=1)
    image, caption, table = anagram_one(runs, CPU, "workspace", "ddpm_class", s, lambda *_, **__: None)
    assert image is not None and why in caption and table == []


def test_a_dvc_experiment_is_a_run_by_its_name(repo, tmp_path):
    """An experiment saved with `dvc exp save -n` while DVC tracks the model: the explorer reads that experiment's
    model by the experiment's name (through dvc.api, from the DVC cache), not the workspace's, retrained since."""
    r = tmp_path / "r"
    shutil.copytree(repo, r)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "add", "-q", "models/ddpm_class"], cwd=r, check=True, capture_output=True)
    git(r, "add", "models/ddpm_class.dvc", "models/.gitignore")
    subprocess.run([*dvc, "exp", "save", "-q", "-n", "tiny-exp"], cwd=r, check=True, capture_output=True)
    saved = (r / "models/ddpm_class/final.safetensors").read_bytes()
    torch.manual_seed(1)  # the workspace's model retrained: other weights
    save_model(r / "models/ddpm_class/final.safetensors", UNet(4, "class").state_dict(),
               {"hidden": 4, "conditioning": "class", "objective": "ddpm", "epoch": 2, **SCHEDULE})
    runs = Runs(r)
    assert "tiny-exp" in known_experiments(r)
    assert runs.read("tiny-exp", "models/ddpm_class/final.safetensors") == saved
    from_exp, meta = runs.model("tiny-exp", "ddpm_class")
    from_workspace, workspace_meta = runs.model("workspace", "ddpm_class")
    assert (meta["epoch"], workspace_meta["epoch"]) == (1, 2)
    assert not torch.equal(from_exp.state_dict()["out.weight"], from_workspace.state_dict()["out.weight"])
    with pytest.raises(RunError, match=r"one of the experiments \['tiny-exp'\]"):
        runs.model("tiny-exp-typo", "ddpm_class")


def test_the_loaded_models_are_a_least_recently_used_cache(repo, tmp_path):
    """Runs keeps at most max_models generative models (MAX_MODELS by default) and max_judges judges loaded: a
    model asked for again is the one kept (no new load), one more drops the least recently used, and that one asked
    for again is loaded afresh, equal to its first load."""
    r = tmp_path / "r"
    shutil.copytree(repo, r)
    runs = Runs(r)
    assert (runs._models.size, runs._judges.size) == (MAX_MODELS, MAX_JUDGES) == (4, 2)

    def retrained(k: int, name: str = "ddpm_class"):  # the workspace's model of seed k, as a retrained run's
        torch.manual_seed(k)
        if name == "judge":
            save_model(r / "models/judge/final.safetensors", Judge().state_dict(), {"kind": "judge", "epoch": k})
            return runs.judge("workspace")
        save_model(r / "models/ddpm_class/final.safetensors", UNet(4, "class").state_dict(),
                   {"hidden": 4, "conditioning": "class", "objective": "ddpm", "epoch": k, **SCHEDULE})
        return runs.model("workspace", "ddpm_class")[0]

    first = [retrained(k) for k in range(4)]
    assert retrained(0) is first[0]  # used again: kept, and now the most recently used
    fifth = retrained(4)  # one too many: drops model 1, the least recently used
    assert len(runs._models) == 4 and retrained(0) is first[0] and retrained(4) is fifth
    again = retrained(1)  # dropped, so loaded afresh (and now model 2 is dropped)
    assert again is not first[1] and again.state_dict().keys() == first[1].state_dict().keys()
    assert all(torch.equal(again.state_dict()[k], v) for k, v in first[1].state_dict().items())
    assert retrained(3) is first[3] and retrained(2) is not first[2]
    judges = [retrained(k, "judge") for k in range(2)]
    retrained(2, "judge")  # a third: drops judge 0
    assert retrained(1, "judge") is judges[1] and retrained(0, "judge") is not judges[0] and len(runs._judges) == 2
    for size, message in (({"max_models": 0}, r"max_models=0; allowed: an integer >= 1"),
                          ({"max_judges": 1.5}, r"max_judges=1.5; allowed: an integer >= 1")):
        with pytest.raises(AssertionError, match=message):  # the code's own settings (app.py's defaults)
            Runs(r, **size)


def part_a(repo):
    """The runs and the workspace's class-conditioned DDPM behind part A's interface, in fp32 on the CPU."""
    runs = Runs(repo)
    return runs, part_a_model(*runs.model("workspace", "ddpm_class"), CPU)


def one_hot(*prompts):
    return [one_hot_prompts([p]) for p in prompts]


def test_the_anagram_is_part_as_for_the_same_seed(repo):
    _, model = part_a(repo)
    for views, digits, eta in ((("identity", "flip"), (6, 9), None), (("identity", "rot90", "jigsaw"), (6, 1, 3), 0.5)):
        s = AnagramSettings(digits, views, engine(3.0, 10, 5, eta), count=2)
        # the library, as evaluation/parta.py's anagrams() and parta/experiments.anagram() call it
        g = torch.Generator().manual_seed(5)
        x_T = torch.randn((2, 1, 28, 28), generator=g)
        *conds, null = one_hot(*map(str, digits), "")
        predictor = alg.anagram(model, conds, null, 3.0, views_for(list(views), model))
        want = alg.iterative_denoise(model.objective.process(eta=eta), x_T,
                                     timesteps(50, stride=10), 0, predictor, g)
        got = make(model, s)
        assert torch.equal(got, want)
        shown = seen(got, views)
        assert torch.equal(shown[:2], got) and torch.equal(shown[2:4], views_for(list(views), model)[1](got))


def test_the_frequency_bands_are_part_as_for_the_same_seed(repo):
    """The Bands tab's images are evaluation/parta.py's bands() images (factorized over frequency_bands, from the
    Bench's seeded noise), and the judge's verdict through each band's view is the one bands() measures."""
    runs, model = part_a(repo)
    judge = runs.judge("workspace")
    blurs = ((9, 2.0), (3, 0.7))
    for digits, eta in (((0, 7, 1), None), ((8, 3, 9), 0.5)):
        s = bands.BandSettings(digits, blurs, engine(3.0, 10, 5, eta), count=3)
        g = torch.Generator().manual_seed(5)
        x_T = torch.randn((3, 1, 28, 28), generator=g)
        predictor = alg.factorized(model, one_hot(*map(str, digits)), one_hot_prompts([""]), 3.0,
                                   alg.frequency_bands(list(blurs)))
        want = alg.iterative_denoise(model.objective.process(eta=eta), x_T, timesteps(50, stride=10), 0,
                                     predictor, g)
        got = bands.make(model, s)
        assert torch.equal(got, want)
        shown = bands.seen(got, blurs)
        assert torch.equal(shown[:3], alg.gaussian_blur(got, 9, 2.0)) and torch.equal(shown[6:], got)
        # the verdicts: as evaluation/parta.py's bands() judges the same seeds
        item = Factorization(kind="bands", prompts=list(map(str, digits)))
        cfg = MnistExperiments.model_construct(factorized=Factorized(kernel_sizes=[9, 3], sigmas=[2.0, 0.7],
                                                                     items=[item]))
        library = Engine(model, model.objective.process(stride=10, eta=eta),
                         lambda *p: one_hot_prompts(list(p)), 3.0, 5)
        bench = Bench(library, judge, cfg, seeds=3, batch_size=8)
        measured = library_bands(bench)["_".join(map(str, digits))].model_dump()
        # each band's 3 images judged in one call, as bands() judges them (other shapes may round otherwise)
        right = torch.tensor([verdicts(judge, band)[0] for band in shown.split(3)]) == torch.tensor(digits)[:, None]
        rates = {f"{band}_ok": ok.float().mean().item() for band, ok in zip(("low", "mid", "high"), right)}
        assert measured == {"success": right.all(0).float().mean().item(), **rates}
    assert bands.band_names(((7, 1.0),)) == ["low", "high"]
    e = engine(3.0, 10, 5)
    for s, message in (
            (bands.BandSettings((0, 7), blurs, e), r"2 digits \[0, 7\] for 2 blur\(s\) .*; allowed: 1 .. 3 blurs "
                                                   r".* and one digit per band, one more than the blurs"),
            (bands.BandSettings((0, 7, 1, 2, 3), ((9, 2.0), (7, 1.5), (5, 1.0), (3, 0.5)), e), "allowed: 1 .. 3 blurs"),
            (bands.BandSettings((0, 7, 1), ((3, 0.7), (9, 2.0)), e), "sigmas must decrease"),
            (bands.BandSettings((0, 7, 1), ((57, 2.0), (3, 0.7)), e),  # against the model, as part A's stages do
             r"parta.mnist.factorized.kernel_sizes=57 is not allowed; allowed: an odd number below 56 for the "
             r"model's 28x28 images"),
            (bands.BandSettings((0, 7, 1), blurs, e, count=9), r"samples=9; allowed: 1 .. 8")):
        with pytest.raises(InputError, match=message):
            bands.make(model, s)
    for text, message in (("9 2.0, 4 0.7", "parta.mnist.blur.kernel_size=4 is not allowed; allowed: an odd integer"),
                          ("9 0.0", "parta.mnist.blur.sigma=0.0 is not allowed; allowed: greater than 0"),
                          ("9 2.0, 3", "'3' is not a blur; allowed: a kernel size (an odd whole number) and a sigma")):
        with pytest.raises(InputError, match=re.escape(message)):
            blurs_of(text, "ddpm_class")


def drawing(ground, ink, mode="RGB"):
    """A '7' drawn with a thick pen on the canvas' 280 x 280."""
    img = Image.new(mode, (280, 280), ground)
    ImageDraw.Draw(img).line([(70, 60), (210, 60), (120, 230)], fill=ink, width=24)
    return img


def test_an_edit_of_a_drawing_or_a_test_digit_is_part_as(repo, tmp_path):
    runs, model = part_a(repo)
    # the drawing becomes the model's input as part A reads an image file: load_image
    drawn = drawing("white", "black")
    drawn.save(tmp_path / "seven.png")
    x0 = load_image(str(tmp_path / "seven.png"), 28, 1)
    assert x0.mean() < 0.5  # inverted: light strokes on a dark ground
    assert torch.equal(from_drawing(np.array(drawn)), x0)
    assert torch.equal(from_drawing(np.array(drawing((0, 0, 0, 0), (0, 0, 0, 255), "RGBA"))), x0)  # ink on nothing
    e = engine(3.0, 10, 5)
    ts = timesteps(50, stride=10)
    cond, null = one_hot("3", "")
    predictor = guided(model, cond, null, 3.0)
    out, frames, labels = edit(model, x0, EditSettings("SDEdit", e, "3", start=1, every=2))
    assert torch.equal(out, alg.sdedit(model.objective.process(), x0, ts, 1, predictor,
                                       torch.Generator().manual_seed(5)))
    assert len(frames) == 2 and labels == ["t = 30 (start)", "t = 10"]
    # inpainting inside a box: alg.inpaint with make_mask's box
    s = EditSettings("inpaint", engine(2.0, 10, 7, 0.0), "3", box=(0.0, 0.5, 0.0, 1.0))
    want = alg.inpaint(model.objective.process(eta=0.0), x0, make_mask([0.0, 0.5, 0.0, 1.0], 28), ts,
                       guided(model, cond, null, 2.0), torch.Generator().manual_seed(7))
    got, frames, _ = edit(model, x0, s)
    assert torch.equal(got, want) and frames == []
    # a test digit of the run's data, read as part A reads mnist-test:<index>
    digit, label = mnist_digit(runs, "workspace", 1)
    assert torch.equal(digit, load_image("mnist-test:1", 28, 1, repo / "data" / "dataset")) and label == 2


def test_a_mask_painted_by_hand_is_inpainting_inside_it(repo):
    """The strokes on the mask canvas become the mask (1 where paint covers at least half of a pixel's cell, whatever
    the paint's colour, every layer's together), and inpainting inside it is alg.inpaint given that mask."""
    runs, model = part_a(repo)
    top = np.zeros((280, 280, 4), np.uint8)
    top[:140, :, :] = (255, 59, 48, 255)  # the top half painted: the box (0, 0.5, 0, 1)
    assert torch.equal(mask_from_strokes([top]), make_mask([0.0, 0.5, 0.0, 1.0], 28))
    disc, half = np.zeros((280, 280, 4), np.uint8), np.zeros((280, 280, 4), np.uint8)
    rows, cols = np.mgrid[:280, :280]
    disc[..., 3] = 255 * ((rows - 150) ** 2 + (cols - 120) ** 2 < 75 ** 2)
    half[200:, 200:, 3] = 128  # half-transparent paint: half a cover
    cover = np.clip(disc[..., 3] / 255 + half[..., 3] / 255, 0, 1).reshape(28, 10, 28, 10).mean((1, 3))
    mask = mask_from_strokes([disc, half])
    assert torch.equal(mask, torch.from_numpy(cover >= 0.5).float()[None, None]) and 0 < mask.mean() < 0.5
    x0, _ = mnist_digit(runs, "workspace", 0)
    ts = timesteps(50, stride=10)
    for eta in (None, 0.0):
        s = EditSettings("inpaint", engine(2.0, 10, 7, eta), "3", box=(0.5, 1.0, 0.0, 1.0), drawn=mask)  # box unused
        want = alg.inpaint(model.objective.process(eta=eta), x0, mask, ts,
                           guided(model, *one_hot("3", ""), 2.0), torch.Generator().manual_seed(7))
        assert torch.equal(edit(model, x0, s)[0], want)
    for layers in (None, [], [np.zeros((280, 280, 4), np.uint8)]):
        with pytest.raises(InputError, match=r"the mask is empty \(nothing painted on the mask canvas\); allowed: "
                                             "strokes over the region to redraw"):
            mask_from_strokes(layers)
    for drawn in (torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 14, 14)):  # not mask_from_strokes' (which names
        with pytest.raises(AssertionError, match="mask_from_strokes' mask"):  # an empty mask, above)
            edit(model, x0, EditSettings("inpaint", engine(2.0, 10, 7), drawn=drawn))


def test_bad_anagram_and_edit_settings_are_named_with_what_is_allowed(repo):
    runs, model = part_a(repo)
    e = engine(3.0, 10, 5)
    for s, message in (
            (AnagramSettings((6, 9), ("identity", "spin"), e), r"views \['spin'\]: unknown; allowed: identity, flip"),
            (AnagramSettings((6, 9), ("identity", "negate"), e), "view 'negate' needs a value range symmetric"),
            (AnagramSettings((6, 6), ("identity", "flip"), e), r"digits \[6, 6\]: the same digit twice; allowed: a "
                                                               "different digit for each view"),
            (AnagramSettings((6,), ("identity",), e), "an anagram takes 2 or 3 different views"),
            (AnagramSettings((6, 12), ("identity", "flip"), e), r"prompt '12': the model understands the labels"),
            (AnagramSettings((6, 9), ("identity", "flip"), engine(3.0, 50, 5)),  # against the model's T
             re.escape("parta.mnist.common.stride=50 is not allowed; allowed: 1 .. 49 (T = 50)")),
            (AnagramSettings((6, 9), ("identity", "flip"), e, count=9), r"samples=9; allowed: 1 .. 8")):
        with pytest.raises(InputError, match=message):
            make(model, s)
    x0 = torch.zeros(1, 1, 28, 28)
    with pytest.raises(InputError, match=re.escape("parta.mnist.iterative.i_start=5 is not allowed; allowed: 0 .. 4 "
                                                   "(the 5 strided timesteps of T = 50 at stride 10)")):
        edit(model, x0, EditSettings("SDEdit", e, start=5))  # against the model's grid, as part A's stages do
    # each field by the rule of the params knob it starts at (the page's, through fields.py)
    for entry, args, message in (
            (start_of, (-1, "ddpm_class"), "parta.mnist.iterative.i_start=-1 is not allowed; allowed: greater than "
                                           "or equal to 0"),
            (start_of, (1.5, "ddpm_class"), "parta.mnist.iterative.i_start=1.5 is not allowed; allowed: a valid "
                                            "integer"),
            (box_of, ("0.5, 0.2, 0, 1", "ddpm_class"), "parta.mnist.inpaint.masks=[[0.5, 0.2, 0.0, 1.0]] is not "
                                                       "allowed; allowed: [top, bottom, left, right] fractions with "
                                                       "top < bottom and left < right"),
            (box_of, ("0, a, 0, 1", "ddpm_class"), "mask box '0, a, 0, 1'; allowed: four fractions of the side"),
            (engine, (3.0, 0, 5), "parta.mnist.common.stride=0 is not allowed; allowed: greater than or equal to 1"),
            (engine, (3.0, 10, 5, 1.5), "parta.mnist.common.ddim_eta=1.5 is not allowed; allowed: less than or "
                                        "equal to 1"),
            (engine, (3.0, 10, 5, None, 0.3, "flow_class"), "parta.mnist_flow.common.step=0.3 is not allowed; "
                                                            "allowed: 1 / n for a whole number n of Euler steps")):
        with pytest.raises(InputError, match=re.escape(message)):
            entry(*args)
    for empty in (None, np.zeros((280, 280, 4), np.uint8), np.full((280, 280, 3), 255, np.uint8)):
        with pytest.raises(InputError, match="the canvas is empty.*allowed: a digit drawn on the canvas"):
            from_drawing(empty)
    with pytest.raises(InputError, match=r"'mnist-test:3': allowed: mnist-test:0 .. mnist-test:2"):
        mnist_digit(runs, "workspace", 3)
    for name in ("ddpm_time", "judge", ""):  # the page's model field: the run's class models only
        with pytest.raises(InputError, match=re.escape(f"model {name!r}; allowed: ddpm_class, flow_class")):
            engine(model=name)


def calls_of(unet: torch.nn.Module) -> list[int]:
    """A list that grows by one at each call of the model (a CFG step is one batched call)."""
    calls: list[int] = []
    unet.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_a_cancel_flag_stops_the_loop_after_the_step_under_way(repo):
    """Cancel sets a flag that the per-step callback reads: set during step k, the loop stops after step k (no
    further model call) with 'cancelled at step k of n', on every tab's work; a flag lives only while its work runs."""
    runs, model = part_a(repo)
    unet, meta = runs.model("workspace", "ddpm_class")
    calls = calls_of(unet)  # the same UNet is behind part A's model
    x0 = torch.zeros(1, 1, 28, 28)
    e = engine(3.0, 10, 5)  # 5 strided steps
    for work, at, message in (
            (lambda flag, on_step: draw(unet, meta, settings(), CPU, on_step=on_step, cancel=flag), 2,
             "cancelled at step 3 of 5"),
            (lambda flag, on_step: make(model, AnagramSettings((6, 9), ("identity", "flip"), e), on_step=on_step,
                                        cancel=flag), 0, "cancelled at step 1 of 5"),
            (lambda flag, on_step: edit(model, x0, EditSettings("SDEdit", e, start=1), cancel=flag,
                                        on_step=lambda i, _n: on_step(i, 0, x0)), 1, "cancelled at step 2 of 4"),
            (lambda flag, on_step: edit(model, x0, EditSettings("inpaint", e), cancel=flag,
                                        on_step=lambda i, _n: on_step(i, 0, x0)), 3, "cancelled at step 4 of 5")):
        flag, seen = threading.Event(), []
        calls.clear()

        def on_step(i, _t, _x, flag=flag, seen=seen, at=at):
            seen.append(i)
            if i == at:
                flag.set()  # as the page's Cancel does, from another thread, while step `at` runs
        with pytest.raises(Cancelled, match=re.escape(message)):
            work(flag, on_step)
        assert seen == list(range(at + 1)) and len(calls) == at + 1
    # the grid drawn two at a time (three batches of 5 steps): set during batch 2's step 3, the loop stops there
    flag, seen = threading.Event(), []
    calls.clear()

    def on_step(i, _t, _x):
        seen.append(i)
        if len(seen) == 8:
            flag.set()
    with pytest.raises(Cancelled, match=re.escape("cancelled at step 3 of 5 of batch 2 of 3")):
        draw(unet, meta, settings(), CPU, 2, on_step=on_step, cancel=flag)
    assert seen == [0, 1, 2, 3, 4, 0, 1, 2] and len(calls) == 8
    cancels = Cancels()
    assert not cancels.cancel(("page", "Sample"))  # nothing running: nothing to cancel, nothing left set
    with cancels.running(("page", "Sample")) as flag:
        assert not cancels.cancel(("other page", "Sample")) and not cancels.cancel(("page", "Draw"))
        assert not flag.is_set() and cancels.cancel(("page", "Sample")) and flag.is_set()
    assert not cancels.cancel(("page", "Sample"))
    with cancels.running(("page", "Sample")) as flag:
        assert not flag.is_set()  # the next work starts with a fresh flag


def decoded(src: str) -> np.ndarray:
    with urllib.request.urlopen(src) as r:
        return np.array(Image.open(io.BytesIO(r.read())).convert("L"))


def src_of(page, selector: str) -> str:
    return page.locator(selector).get_attribute("src")


def replaced(page, selector: str, before: str) -> np.ndarray:
    """The picture an <img> shows once the page has replaced the one it showed before a click (`before`, its src):
    Gradio updates a caption and an image as separate steps, so the caption an assertion waits for can come first."""
    from playwright.sync_api import expect

    expect(page.locator(selector)).not_to_have_attribute("src", before, timeout=60_000)
    return decoded(src_of(page, selector))


@contextlib.contextmanager
def served_in_chromium(runs: Runs, choices: list[str]):
    """The explorer on a free port of 127.0.0.1 and a headless Chromium (Debian's) to open it: yields (url,
    new_page), new_page() opening the app in a page of its own; on leaving, no page may have asked anything of a
    host other than 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    from difflab.explore.app import launch

    demo, url = launch(runs, free_port(), choices=choices)
    requests: list[str] = []
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)

            def new_page(width: int = 1400, height: int = 1000):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.on("request", lambda r: requests.append(r.url))
                page.goto(url)
                return page

            yield url, new_page
            browser.close()
        outside = [u for u in requests if urlparse(u).scheme not in ("data", "blob")
                   and urlparse(u).hostname != "127.0.0.1"]
        assert requests and not outside, outside
    finally:
        demo.close()


def test_the_page_in_a_real_browser(repo):
    """Sample from two pages at once, a step count out of range and then a good one, all on 127.0.0.1."""
    from playwright.sync_api import expect

    runs = Runs(repo)
    with served_in_chromium(runs, ["workspace", "HEAD"]) as (url, new_page):
        assert urlparse(url).hostname == "127.0.0.1"
        unet, meta = runs.model("workspace", "ddpm_class")
        want = picture(draw(unet, meta, settings(digits=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), rows=1, num_steps=3), CPU), 10)
        pages = [new_page() for _ in range(2)]
        for page in pages:
            page.locator("#rows input").fill("1")
            page.locator("#steps input").fill("3")
            page.locator("#seed input").fill("11")
        for page in pages:  # both asked before either answers
            page.locator("#sample").click()
        for page in pages:
            image = page.locator("#image-a img")
            expect(image).to_have_count(1, timeout=60_000)
            page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle(),
                                   timeout=30_000)  # loaded and shown
            assert np.array_equal(decoded(image.get_attribute("src")), want)
            expect(page.locator("#caption-a")).to_contain_text("Judged as asked:")
        page = pages[0]
        # the reverse process: its last frame is the grid; frame 0 is the seeded noise
        expect(page.locator("#frame-caption")).to_contain_text("Frame 4 of 4: step 3 of 3: the result")
        last_frame = src_of(page, "#frame-a img")
        assert np.array_equal(decoded(last_frame), want)
        page.locator("#frame input[type='number']").fill("0")
        page.locator("#frame input[type='number']").press("Enter")
        expect(page.locator("#frame-caption")).to_contain_text("Frame 1 of 4: the noise", timeout=30_000)
        first_frame = replaced(page, "#frame-a img", last_frame)
        noise = randn((10, 1, 28, 28), image_generators(11, 10))
        assert np.array_equal(first_frame, picture(noise, 10))
        # Cancel stops the sampling loop under way (a 10 x 10 grid over all 50 steps: many seconds here) within a
        # step, with a message naming the step; the page keeps its grid and serves the next click
        page.locator("#rows input").fill("10")
        page.locator("#steps input").fill("50")
        page.locator("#sample").click()
        expect(page.get_by_text("workspace: sampling").first).to_be_visible(timeout=30_000)
        page.locator("#sample-cancel").click()
        expect(page.get_by_text(re.compile(r"Sample: cancelled at step \d+ of 50")).first).to_be_visible(
            timeout=30_000)
        assert np.array_equal(decoded(page.locator("#image-a img").get_attribute("src")), want)
        # a run nobody made: named on the page, which keeps serving
        run_box = page.locator("#run-a input")
        run_box.fill("no-such-run")
        run_box.press("Enter")
        page.locator("#sample").click()
        expect(page.get_by_text("run 'no-such-run' is neither a git revision nor an experiment").first).to_be_visible(
            timeout=30_000)
        run_box.fill("workspace")
        run_box.press("Enter")
        page.locator("#rows input").fill("1")
        refused_then_answered(page, "#steps input", "#sample", "999", "num_steps=999; allowed: 1 .. 50 (T = 50)",
                              "2", "#caption-a", "2 steps")


def refused_then_answered(page, field: str, go: str, bad: str, message: str, good: str, answer: str,
                          text: str) -> None:
    """A bad value in `field` gets its message on the page, and the next request, with a good value, its answer:
    the app kept serving."""
    from playwright.sync_api import expect

    page.locator(field).fill(bad)
    page.locator(go).click()
    expect(page.get_by_text(message).first).to_be_visible(timeout=30_000)
    page.locator(field).fill(good)
    page.locator(go).click()
    expect(page.locator(answer)).to_contain_text(text, timeout=60_000)


def paint_a_bar(page, area: dict) -> None:
    """A stroke of the mouse across the top half of a sketchpad's drawing area (280 x 280 in the canvas's middle)."""
    x, y = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2 - 60
    page.mouse.move(x - 70, y)
    page.mouse.down()
    for dx in (-30, 10, 70):
        page.mouse.move(x + dx, y, steps=5)
    page.mouse.up()


def open_tab(page, tab: str, prefix: str, **fields: str) -> None:
    """Open a tab of the page and fill its number fields (elem_id <prefix>-<field>)."""
    page.get_by_role("tab", name=tab).click()
    for field, value in fields.items():
        page.locator(f"#{prefix}-{field} input").fill(value)


def test_the_anagram_and_draw_tabs_in_a_real_browser(repo):
    """The Anagram tab's image is the library's anagram through each view, the Bands tab's the library's bands
    through each band (after a message naming a bad blur); on the Draw tab a digit drawn with the
    mouse on the sketchpad's canvas is edited, an empty canvas gets a message, an MNIST test digit's SDEdit is the
    library's, pixel for pixel, and so is its inpainting inside a mask painted with the mouse over it (alg.inpaint
    given the mask the page shows); nothing asked of any host but 127.0.0.1."""
    from playwright.sync_api import expect

    runs, model = part_a(repo)
    with served_in_chromium(runs, ["workspace"]) as (_, new_page):
        anagrams = make(model, AnagramSettings((6, 9), ("identity", "flip"), engine(3.0, 10, 3), count=2))
        want_anagram = picture(seen(anagrams, ("identity", "flip")), 2)
        blurs = ((9, 2.0), (3, 0.7))
        want_bands = picture(bands.seen(bands.make(model, bands.BandSettings((0, 7, 1), blurs, engine(3.0, 10, 3),
                                                                             count=2)), blurs), 2)
        digit, _ = mnist_digit(runs, "workspace", 2)
        want_edit = picture(edit(model, digit, EditSettings("SDEdit", engine(3.0, 10, 3), "", start=2))[0], 1)
        page = new_page(1400, 1400)
        open_tab(page, "Anagram", "anagram", count="2", stride="10", seed="3")
        page.locator("#anagram-go").click()
        image = page.locator("#anagram-image img")
        expect(image).to_have_count(1, timeout=60_000)
        assert np.array_equal(decoded(image.get_attribute("src")), want_anagram)
        expect(page.locator("#anagram-caption")).to_contain_text("Every view judged as asked:")

        open_tab(page, "Bands", "bands", count="2", stride="10", seed="3")
        refused_then_answered(page, "#bands-blurs textarea", "#bands-go", "9 2.0, 3",
                              "blurs '9 2.0, 3': '3' is not a blur; allowed: a kernel size", "9 2.0, 3 0.7",
                              "#bands-caption", "Every band judged as asked:")
        assert np.array_equal(decoded(page.locator("#bands-image img").get_attribute("src")), want_bands)

        open_tab(page, "Draw", "draw", stride="10", seed="3", start="2")
        page.locator("#draw-go").click()  # nothing drawn yet
        expect(page.get_by_text("the canvas is empty").first).to_be_visible(timeout=30_000)
        # drawn with the mouse on the sketchpad's canvas (its brush tool; the 280 x 280 drawing area sits in the
        # middle of the canvas element): a bar across its top half
        page.locator("#draw-canvas").get_by_role("button", name="Brush").click()
        paint_a_bar(page, page.locator("#draw-canvas canvas").first.bounding_box())
        page.locator("#draw-go").click()
        expect(page.locator("#draw-result img")).to_have_count(1, timeout=60_000)
        shown = decoded(page.locator("#draw-input img").get_attribute("src")).astype(float)
        assert shown[:shown.shape[0] // 2].mean() > shown[shown.shape[0] // 2:].mean() + 5  # the ink, on top
        expect(page.locator("#draw-caption")).to_contain_text("SDEdit from i_start = 2 (t = ")
        drawn_input, drawn_result = src_of(page, "#draw-input img"), src_of(page, "#draw-result img")
        page.get_by_label("MNIST test digit").check()
        page.locator("#draw-index input").fill("2")
        page.locator("#draw-go").click()
        expect(page.locator("#draw-caption")).to_contain_text("The test digit's label: 1", timeout=60_000)
        assert np.array_equal(replaced(page, "#draw-result img", drawn_result), want_edit)
        replaced(page, "#draw-input img", drawn_input)  # the test digit in place of the drawing
        digit_input, digit_result = src_of(page, "#draw-input img"), src_of(page, "#draw-result img")
        # a mask painted with the mouse over the test digit (put under the mask canvas): a bar across its top half;
        # the result is alg.inpaint given the mask the page shows
        page.get_by_text("the mask painted by hand").click()
        page.locator("#draw-mask-under").click()
        expect(page.locator("#draw-mask-note")).to_contain_text("test digit 2) is under the mask", timeout=30_000)
        page.wait_for_timeout(500)  # the canvas takes its new background (and clears its strokes) before we paint
        mask_area = page.locator("#draw-mask canvas").first
        page.locator("#draw-mask").get_by_role("button", name="Brush", exact=True).click()
        mask_area.scroll_into_view_if_needed()
        paint_a_bar(page, mask_area.bounding_box())
        page.get_by_label("inpaint", exact=True).check()
        page.get_by_label("drawn mask").check()
        page.locator("#draw-go").click()
        expect(page.locator("#draw-caption")).to_contain_text("inpainting inside the mask painted by hand",
                                                              timeout=60_000)
        shown = replaced(page, "#draw-input img", digit_input)  # [input, mask] at SCALE, pad 1
        left = 1 + 28 * SCALE + 1  # the second tile's first column
        mask = torch.from_numpy(shown[1:1 + 28 * SCALE:SCALE, left:left + 28 * SCALE:SCALE] / 255).float()
        assert set(mask.unique().tolist()) == {0.0, 1.0} and mask[:14].sum() > 0 and mask[14:].sum() == 0
        want = alg.inpaint(model.objective.process(), digit, mask[None, None], timesteps(50, stride=10),
                           guided(model, *one_hot("", ""), 3.0), torch.Generator().manual_seed(3))
        assert np.array_equal(replaced(page, "#draw-result img", digit_result), picture(want, 1))
        # the class flow model chosen: its Euler step shows in place of the DDPM's stride and sampler, and the
        # start field speaks its time, from parta.mnist_flow.iterative.t_start's fallback (the run's params have
        # no parta section; the API test checks its pixels)
        page.locator("#draw-model").get_by_label("flow_class").check()
        expect(page.locator("#draw-step input")).to_be_visible(timeout=10_000)
        expect(page.locator("#draw-stride")).to_be_hidden()
        expect(page.locator("#draw-start input")).to_have_value("0.5")
        expect(page.locator("#draw-start")).to_contain_text("SDEdit t_start")


def test_the_explorer_as_an_api(batched, tmp_path):
    """gradio_client calls the served explorer's named endpoints with their parameters named in words (the Cancel
    buttons are the page's only), and /sample answers with the library's grid for the same settings: the run's
    sample_batch_size (2) at a time, as sampling/grids.py draws it."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from difflab.explore.app import launch

    runs = Runs(batched)
    demo, url = launch(runs, free_port(), choices=["workspace"])
    try:
        client = Client(url, verbose=False, download_files=tmp_path)
        api = client.view_api(print_info=False, return_format="dict")
        names = {endpoint: [p["parameter_name"] for p in info["parameters"]]
                 for endpoint, info in api["named_endpoints"].items()}
        engine_fields = ["model", "cfg_scale", "stride", "seed", "sampler", "eta", "step"]
        assert names == {
            "/sample": ["run", "compare_with", "model", "digits", "rows", "cfg_scale", "steps", "sampler", "eta",
                        "variance", "seed"],
            "/frame": ["frame"],
            "/anagram": ["run", "digit_1", "view_1", "digit_2", "view_2", "digit_3", "view_3", "samples", *engine_fields],
            "/bands": ["run", "digits", "blurs", "samples", *engine_fields],
            "/edit": ["run", "source", "canvas", "test_digit", "mode", "start", "region", "box", "prompt", "every",
                      "mask", *engine_fields],
            "/under_the_mask": ["run", "source", "canvas", "test_digit"]}
        assert not api["unnamed_endpoints"]
        asked = dict(run="workspace", compare_with="", model="ddpm_class", digits="3 1 4", rows=2, cfg_scale=3.0,
                     steps=3, sampler="DDPM step", eta=0.0, variance="fixed_small", seed=11)
        with pytest.raises(AppError, match=re.escape("num_steps=999; allowed: 1 .. 50 (T = 50)")):
            client.predict(**{**asked, "steps": 999}, api_name="/sample")
        image, caption, *_ = client.predict(**asked, api_name="/sample")
        noise, _, frame_caption = client.predict(frame=0, api_name="/frame")  # this session's last grid's film
        # part A's tabs on the class flow model: its Euler step read, the DDPM's stride and sampler not
        flow_engine = dict(model="flow_class", cfg_scale=3.0, stride=9, seed=3, sampler="DDPM step", eta=0.0,
                           step=0.1)
        anagram, anagram_caption, _ = client.predict(
            run="workspace", digit_1="6", view_1="identity", digit_2="9", view_2="flip", digit_3="", view_3="",
            samples=2, **flow_engine, api_name="/anagram")
        sdedit = dict(run="workspace", source="MNIST test digit", canvas=None, test_digit=2, mode="SDEdit", start=0.4,
                      region="box", box="0, 0.5, 0, 1", prompt="", every=0, mask=None, **flow_engine)
        _, edited, _, edit_caption = client.predict(**sdedit, api_name="/edit")
        _, between, _, between_caption = client.predict(**{**sdedit, "start": 0.33}, api_name="/edit")  # off the grid
        assert "SDEdit from t_start = 0.33," in between_caption
        with pytest.raises(AppError, match=re.escape("parta.mnist_flow.iterative.t_start=1 is not allowed; allowed: "
                                                     "less than 1")):
            client.predict(**{**sdedit, "start": 1.0}, api_name="/edit")
        with pytest.raises(AppError, match=re.escape("parta.mnist.iterative.i_start=0.4 is not allowed; allowed: a "
                                                     "valid integer")):
            client.predict(**{**sdedit, "model": "ddpm_class", "stride": 9}, api_name="/edit")
        client.close()
    finally:
        demo.close()
    flow = part_a_model(*runs.model("workspace", "flow_class"), CPU)
    e = engine(3.0, 9, 3, step=0.1, model="flow_class")
    want = picture(seen(make(flow, AnagramSettings((6, 9), ("identity", "flip"), e, count=2)), ("identity", "flip")), 2)
    assert np.array_equal(np.array(Image.open(anagram).convert("L")), want)
    assert "(flow_class)" in anagram_caption and "10 Euler steps (h = 0.1)" in anagram_caption
    digit, _ = mnist_digit(runs, "workspace", 2)
    assert np.array_equal(np.array(Image.open(edited).convert("L")),
                          picture(edit(flow, digit, EditSettings("SDEdit", e, "", start=0.4))[0], 1))
    assert "SDEdit from t_start = 0.4," in edit_caption
    unet, meta = runs.model("workspace", "ddpm_class")
    digits = [3, 1, 4] * 2
    want = library_grid(unet, meta, Grid(digits, 6, "", []), 3.0, 3, 11, CPU, batch_size=2,
                        progress=None)
    assert np.array_equal(np.array(Image.open(image).convert("L")), picture(want, 3))
    assert "2 at a time (sample_batch_size)" in caption and "Judged as asked:" in caption
    assert np.array_equal(np.array(Image.open(noise).convert("L")), picture(randn((6, 1, 28, 28),
                                                                                 image_generators(11, 6)), 3))
    assert frame_caption.startswith("**Frame 1 of 4**: the noise (step 0)")
