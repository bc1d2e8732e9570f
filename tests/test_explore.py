"""The explorer (difflab/explore, make explore): its grid for a seed is the library's, pixel for pixel; bad input
gets a message naming what is allowed; and in headless Chromium the page samples, serves two pages at once, shows
an error and keeps serving, and asks nothing of any host but 127.0.0.1. Tiny untrained models in a temporary git +
DVC repository, read through dvc.api as any run's are."""

import io
import shutil
import socket
import subprocess
import sys
import urllib.request
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.config.runtime import Runtime
from difflab.core.noise import image_generators, randn
from difflab.errors import InputError
from difflab.explore.runs import RunError, Runs
from difflab.explore.sample import SCALE, Settings, draw, parse_digits, picture
from difflab.models.checkpoints import save_model
from difflab.models.judge import Judge
from difflab.models.unet import UNet
from difflab.reporting.figures import tile
from difflab.sampling.generate import generate
from difflab.sampling.grids import Grid
from difflab.sampling.grids import draw as library_grid

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
    (repo / "params.yaml").write_text("ddpm_class:\n  hidden: 4\n  guidance_scale: 3.0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "params only")
    torch.manual_seed(0)
    for name, objective in (("ddpm_class", "ddpm"), ("flow_class", "flow")):
        unet = UNet(4, "class")
        save_model(repo / "models" / name / "final.safetensors", unet.state_dict(),
                   {"hidden": 4, "conditioning": "class", "objective": objective, "epoch": 1, **SCHEDULE})
    save_model(repo / "models" / "judge" / "final.safetensors", Judge().state_dict(), {"kind": "judge", "epoch": 1})
    return repo


def settings(**changes) -> Settings:
    base = dict(digits=(3, 1, 4), rows=2, guidance_scale=3.0, num_steps=5, sampler="DDIM", eta=0.0,
                variance="fixed_small", seed=11)
    return Settings(**{**base, **changes})


def test_the_grid_is_the_librarys_for_the_same_seed(repo):
    runs = Runs(repo)
    unet, meta = runs.model("workspace", "ddpm_class")
    # the DDPM step: exactly sampling/grids.py's seeded grid
    s = settings(sampler="DDPM step")
    digits = list(s.digits) * s.rows
    want = library_grid(unet, meta, {"guidance_scale": s.guidance_scale}, Grid(digits, len(digits), "", []),
                        s.num_steps, s.seed, CPU, batch_size=2, progress=None)
    assert torch.equal(draw(unet, meta, s, CPU), want)
    # DDIM with eta and a flow model's Euler steps: generate() from the seeded noise
    for model, s in (("ddpm_class", settings(eta=0.5)), ("flow_class", settings(sampler="flow Euler"))):
        unet, meta = runs.model("workspace", model)
        gens = image_generators(s.seed, len(digits))
        want = generate(unet, meta, randn((len(digits), 1, 28, 28), gens), gens, digits, s.guidance_scale,
                        num_steps=s.num_steps, eta=s.eta if model == "ddpm_class" else None)
        assert torch.equal(draw(unet, meta, s, CPU), want)
        assert np.array_equal(picture(want, 3), tile(want.clamp(0, 1), 3, scale=SCALE))


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
    for s, message in ((settings(num_steps=51), r"num_steps=51; allowed for a DDPM: 1 .. T \(50\)"),
                       (settings(sampler="flow Euler"), "does not sample a ddpm model; allowed: DDPM step, DDIM"),
                       (settings(eta=2.0), r"eta=2.0; allowed: a number in \[0, 1\]"),
                       (settings(rows=0), r"rows=0; allowed: 1 .. 10")):
        with pytest.raises(InputError, match=message):
            draw(unet, meta, s, CPU)
    assert parse_digits("1,4-6 9") == (1, 4, 5, 6, 9)
    for text in ("", "  ", "12", "7-3", "a"):
        with pytest.raises(InputError, match="allowed: digits 0-9"):
            parse_digits(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decoded(src: str) -> np.ndarray:
    with urllib.request.urlopen(src) as r:
        return np.array(Image.open(io.BytesIO(r.read())).convert("L"))


def test_the_page_in_a_real_browser(repo):
    """Sample from two pages at once, a step count out of range and then a good one, all on 127.0.0.1."""
    from playwright.sync_api import expect, sync_playwright

    from difflab.explore.app import launch

    chromium = shutil.which("chromium")
    assert chromium, "the page tests need Debian's chromium (make test installs it)"
    runs = Runs(repo)
    demo, url = launch(runs, free_port(), choices=["workspace", "HEAD"])
    try:
        assert urlparse(url).hostname == "127.0.0.1"
        unet, meta = runs.model("workspace", "ddpm_class")
        want = picture(draw(unet, meta, settings(digits=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), rows=1, num_steps=3), CPU), 10)
        requests: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            pages = [browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
            for page in pages:
                page.on("request", lambda r: requests.append(r.url))
                page.goto(url)
                page.locator("#rows input").fill("1")
                page.locator("#steps input").fill("3")
                page.locator("#seed input").fill("11")
            for page in pages:  # both asked before either answers
                page.locator("#sample").click()
            for page in pages:
                image = page.locator("#image-a img")
                expect(image).to_have_count(1, timeout=60_000)
                assert page.evaluate("i => i.complete && i.naturalWidth > 0", image.element_handle())
                assert np.array_equal(decoded(image.get_attribute("src")), want)
                expect(page.locator("#caption-a")).to_contain_text("Judged as asked:")
            page = pages[0]
            page.locator("#steps input").fill("999")
            page.locator("#sample").click()
            expect(page.get_by_text("num_steps=999; allowed for a DDPM: 1 .. T (50)").first).to_be_visible(
                timeout=30_000)
            page.locator("#steps input").fill("2")
            page.locator("#sample").click()
            expect(page.locator("#caption-a")).to_contain_text("2 steps", timeout=60_000)
            browser.close()
        outside = [u for u in requests if urlparse(u).scheme not in ("data", "blob")
                   and urlparse(u).hostname != "127.0.0.1"]
        assert requests and not outside, outside
    finally:
        demo.close()
