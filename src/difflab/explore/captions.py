"""What the page writes under each image, free of the page: the run, the model and the settings that made it, in
words (Markdown)."""

from difflab.core.processes import FlowProcess
from difflab.explore.anagram import AnagramSettings, EngineSettings
from difflab.explore.bands import BandSettings
from difflab.explore.draw import EditSettings
from difflab.explore.runs import MODELS
from difflab.explore.sample import Settings


def ordinal_suffix(n: int) -> str:
    """1 -> st, 2 -> nd, 3 -> rd, 11 -> th, 21 -> st: 'every 21st step'."""
    return "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def describe(run: str, model: str, meta: dict, params: dict, s: Settings, batch_size: int | None = None) -> str:
    """The caption of one grid: the run, its model and what it was trained with, the sampler's settings and the
    batch size it drew with (the run's sample_batch_size)."""
    sampler = f"DDIM eta {s.eta:g}" if s.sampler == "DDIM" else (
        f"DDPM step, {s.variance}" if s.sampler == "DDPM step" else "flow Euler")
    knobs = ", ".join(f"{k} {v}" for k, v in (params.get(model) or {}).items())
    guided = f", CFG scale {s.guidance_scale:g}" if meta["conditioning"] == "class" else ""
    batched = f"{batch_size} at a time" if batch_size else "all at once"
    return (f"**{run}**: {MODELS[model]} (`{model}`, D={meta['hidden']}, epoch {meta.get('epoch', '?')}); "
            f"{sampler}, {s.num_steps} steps{guided}, seed {s.seed}, {batched} (sample_batch_size).  \n"
            f"Trained with: {knobs or 'params not found'}")


def describe_frame(k: int, count: int, label: str, every: int) -> str:
    """The caption of frame k (0 = the noise) of a film of `count` frames that keeps every `every`-th step."""
    kept = "every step is kept" if every == 1 else f"every {every}{ordinal_suffix(every)} step is kept"
    return f"**Frame {k + 1} of {count}**: {label} ({kept}; the last frame is the grid above)."


def describe_engine(e: EngineSettings, engine) -> str:
    """How a caption names the engine: its steps and sampler (a DDPM's stride, a flow's Euler step), CFG, seed."""
    ts, c = engine.grid, e.common
    if isinstance(engine.process, FlowProcess):
        return f"{len(ts)} Euler steps (h = {c.step:g}), CFG scale {c.guidance_scale:g}, seed {e.seed}"
    sampler = "DDPM step" if c.sampler == "ddpm" else f"DDIM eta {c.ddim_eta:g}"
    return (f"{len(ts)} steps (stride {c.stride}, {ts[0]} .. 0), CFG scale {c.guidance_scale:g}, {sampler}, "
            f"seed {e.seed}")


def describe_anagram(run: str, name: str, s: AnagramSettings, engine) -> str:
    """The caption of the anagrams by model `name`: digit k through view k, the engine, the samples."""
    what = ", ".join(f"{d} through {v}" for d, v in zip(s.digits, s.views))
    return (f"**{run}** ({name}): anagram {what}; {describe_engine(s.engine, engine)}; {s.count} sample(s). "
            "Row k: every sample through view k.")


def describe_bands(run: str, name: str, s: BandSettings, engine, names: list[str]) -> str:
    """The caption of the images by model `name` whose band k (called names[k]) follows digit k."""
    seen_as = [f"through the blur kernel {k}, sigma {sigma:g}" for k, sigma in s.blurs] + ["the image itself"]
    what = "; ".join(f"{band} band {d} (seen {how})" for band, d, how in zip(names, s.digits, seen_as))
    return (f"**{run}** ({name}): frequency bands: {what}; {describe_engine(s.engine, engine)}; {s.count} "
            "sample(s). Row k: every sample through band k's view, low (the widest blur, as from afar) to high "
            "(up close).")


def describe_edit(run: str, name: str, s: EditSettings, engine, mask, start: str | None, truth: int | None) -> str:
    """The caption of an edit by model `name`: SDEdit from `start` (its start in the model's time, in words) where
    there is no `mask`, else inpainting inside the box or the mask painted by hand; toward the prompt; and the test
    digit's label `truth` (None for a drawing)."""
    region = f"the box {list(s.box)}" if s.drawn is None else f"the mask painted by hand ({int(mask.sum())} pixels)"
    how = f"SDEdit from {start}" if mask is None else f"inpainting inside {region} (white in the mask)"
    toward = repr(s.prompt) if s.prompt else "no digit"
    return (f"**{run}** ({name}): {how}, toward {toward}; {describe_engine(s.engine, engine)}."
            + (f" The test digit's label: {truth}." if truth is not None else ""))
