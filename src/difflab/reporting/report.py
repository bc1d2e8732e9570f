"""The report page: the profile that ran and the headline numbers beside their goals, then every figure of parts
A and B in the order of the spec, with captions built from the parameters that produced them, the metrics tables,
and the parameters and git revision. Laid out with Jinja2 as the HTML of reports/index.html, whose images are the
pipeline's own figures (paths relative to reports/).

This module lays out what it is given: a run's params, metric files, headline and git revision come as arguments,
read by stages/report.py for the workspace's run and by difflab/reporting/compare_page.py (through DVC) for each run
it compares, so no page captions one run's figures with another run's numbers. The one file read here is the
project's description of the quick profile (profile_text), which is code, not a run's result.
"""

from pathlib import Path

import jinja2

from difflab.config.experiments import PART_A
from difflab.config.parta_models import PART_A_MODELS
from difflab.config.metric_files import MetricFile, Objectives, PureNoise, Samplers
from difflab.config.params import flatten
from difflab.config.profiles import read_overrides
from difflab.config.schema import Generative, Params
from difflab.core.ddpm import FIXED_VARIANCES
from difflab.reporting.parta_captions import CAPTIONS
from difflab.reporting.summary import GOAL_SOURCES, NOT_MEASURED, goal_rows

REPORTS = Path("reports")


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


# The metric files the page shows as tables: title -> file, relative to a run's reports/ folder. The layout
# functions below are given them read (a dict file -> its model, config/metric_files.FILES) rather than reading them.
METRICS = {
    "Denoiser: out-of-distribution test": "denoiser/ood.json",
    "Time-conditioned DDPM: sample quality": "ddpm_time/eval.json",
    "Class-conditioned DDPM: CFG sweep": "ddpm_class/eval.json",
    "Time-conditioned flow matching: sample quality": "flow_time/eval.json",
    "Class-conditioned flow matching: CFG sweep": "flow_class/eval.json",
    "DDPM against flow matching by sampling steps": "objectives/metrics.json",
    "Denoising pure noise": "pure_noise/metrics.json",
    "DDPM step against DDIM by sampling steps": "samplers/metrics.json",
    "Part A on MNIST, judged over seeds": "eval_parta/metrics.json",
    "Judge": "judge/metrics.json",
}
# The ones whose numbers the captions quote: all a page about another run (the comparison page) needs of them.
CAPTION_METRICS = ("samplers/metrics.json", "pure_noise/metrics.json", "objectives/metrics.json")
assert set(CAPTION_METRICS) <= set(METRICS.values())
SUMMARY = "summary.json"


def item(src: str, title: str, caption: str) -> dict:
    """One figure of the page: its file (relative to reports/), its heading and its caption."""
    return {"src": src, "title": title, "caption": caption}


def _quoting(metrics: dict[str, MetricFile], name: str, sentence) -> str:
    """sentence(metrics[name]), or what is missing where the run lacks that file."""
    return sentence(metrics[name]) if name in metrics else f"(No reports/{name} in this run: its numbers are missing.)"


def sections(params: Params, metrics: dict[str, MetricFile]) -> list[dict]:
    """The report's figures as sections of items {src, title, caption}: titles and captions from this run's params
    and its metrics (file relative to reports/ -> its model; those of CAPTION_METRICS are quoted, and a caption
    says which are missing)."""
    name, m = params.parta.model, PART_A_MODELS["mnist"]  # judged on MNIST whichever model parta.model names
    a = getattr(params.parta, name)
    d, t, k = params.denoiser, params.ddpm_time, params.ddpm_class

    part_a = [
        *(item(f"{m.stage}/{e.name}.png", CAPTIONS[e.name].title, CAPTIONS[e.name].caption(a)) for e in PART_A),
        item(f"{m.evaluation}/anagrams_hybrids.png", "Anagrams, hybrids and bands on MNIST, judged",
             f"Over {params.eval.parta_seeds} seeds: bars, how often the image through every view (every band) "
             "is judged as its digit; dots, each view or band alone."),
        item(f"{m.evaluation}/sdedit_faithfulness.png", "Part A on MNIST, judged",
             f"How often SDEdit keeps a test digit's label, over {params.eval.parta_seeds} digits."),
    ]
    part_b = [
        item("denoiser/noising.png", "B1 Noising", f"sigma in {d.sigmas}."),
        item("denoiser/loss.png", "B1 Training loss", f"D = {d.hidden}, sigma {d.sigma}, batch "
             f"{d.batch_size}, {d.epochs} epochs, Adam {d.lr}."),
        item("denoiser/denoised.png", "B1 Denoised test digits", f"After epoch {d.snapshot_epoch} and "
             f"{d.epochs}."),
        item("denoiser/ood.png", "B1 Out-of-distribution noise levels", f"Trained at sigma {d.sigma}."),
        item("denoiser/ood_psnr.png", "B1 PSNR vs sigma", "Denoised output against the noisy input."),
        item("ddpm_time/loss.png", "B2 Training loss", f"T = {params.ddpm.num_timesteps}, D = {t.hidden}, "
             f"batch {t.batch_size}, {t.epochs} epochs, Adam {t.lr} with exponential decay."),
        item("ddpm_time/samples_snapshot.png", f"B2 Samples after epoch {t.snapshot_epoch}", ""),
        item("ddpm_time/samples_final.png", f"B2 Samples after epoch {t.epochs}", ""),
        item("ddpm_time/reverse.gif", "B2 The reverse process", f"A frame every {t.gif_every} steps."),
        item("ddpm_class/loss.png", "B3 Training loss", f"p_uncond {k.p_uncond}, D = {k.hidden}."),
        item("ddpm_class/samples_snapshot.png", f"B3 Samples after epoch {k.snapshot_epoch}",
             f"CFG scale {k.guidance_scale}."),
        item("ddpm_class/samples_final.png", f"B3 Samples after epoch {k.epochs}",
             f"CFG scale {k.guidance_scale}."),
        item("ddpm_class/reverse.gif", "B3 The reverse process", ""),
        item("ddpm_class/cfg_accuracy.png", "B3 Judged accuracy vs CFG scale",
             f"{params.eval.num_samples} samples per scale."),
        item("ddpm_class/cfg_fd.png", "B3 Judge Frechet distance vs CFG scale",
             "FID's formula on the judge's features (not Inception FID); the floor is real training digits."),
    ]
    return [{"id": "part-a", "title": f"Part A: diffusion experiments on {name}", "items": part_a},
            {"id": "part-a-flow", "title": "Part A on the class flow model (the course's part A since Fall 2026)",
             "items": part_a_flow_items(params)},
            {"id": "part-b", "title": "Part B: diffusion models from scratch on MNIST", "items": part_b},
            {"id": "flow", "title": "Part B with flow matching (the course since 2025)",
             "items": flow_items(params, metrics)},
            {"id": "beyond", "title": "Beyond the course", "items": beyond_items(params, metrics)}]


def part_a_flow_items(params: Params) -> list[dict]:
    """The flow model's part A (stage parta_flow) and its judged rates (eval_parta_flow), with the settings that
    differ from the DDPM's: time from noise at 0 to the image at 1, Euler steps, start times."""
    f, m = params.parta.mnist_flow, PART_A_MODELS["mnist_flow"]
    how = (f"Euler steps of h = {f.common.step:g} from noise (t = 0) to the image (t = 1), CFG {f.common.guidance_scale}"
           f"; forward at t = {f.forward.times}, iterative from t = {f.iterative.t_start}, SDEdit from "
           f"t_start {f.sdedit.t_start}.")
    items = [item(f"{m.stage}/{e.name}.png", CAPTIONS[e.name].flow_title or CAPTIONS[e.name].title,
                  how if e.name == "sample" else "")
             for e in PART_A]
    return items + [
        item(f"{m.evaluation}/anagrams_hybrids.png", "Anagrams, hybrids and bands on the flow model, judged",
             f"Over {params.eval.parta_seeds} seeds, as for the DDPM."),
        item(f"{m.evaluation}/sdedit_faithfulness.png", "Part A on the flow model, judged",
             f"How often SDEdit keeps a test digit's label, over {params.eval.parta_seeds} digits, by start time.")]


def beyond_items(params: Params, metrics: dict[str, MetricFile]) -> list[dict]:
    """What the course does not ask for: DDIM beside the DDPM step."""
    return [{"src": "samplers/samplers.png", "title": "DDIM against the DDPM step: digits per sampling step",
             "caption": _quoting(metrics, "samplers/metrics.json", samplers_sentence)}]


def samplers_sentence(m: Samplers) -> str:
    """'The DDPM step (noise fixed_small, fixed_large) and DDIM (eta 0), same model and noise; judged accuracy /
    distance: 10 steps: DDPM fixed_small 0.95 / 60, DDPM fixed_large 0.52 / 180, DDIM 0.95 / 58; ...'."""
    variances = [v for v in FIXED_VARIANCES if v in m.ddpm]  # the columns compare_samplers wrote
    columns = [(m.ddpm[v], f"DDPM {v}") for v in variances] + [(m.ddim, "DDIM")]
    parts = [f"{k} steps: " + ", ".join(f"{name} {c.steps[k].judge_accuracy:.2f} / {c.steps[k].fd_to_test:.0f}"
                                         for c, name in columns)
             for k in sorted(m.ddim.steps)]
    return (f"The class-conditioned DDPM sampled over the same strided timesteps by its posterior step (noise "
            f"{' or '.join(variances)}: the posterior's, or sqrt(beta) of the whole stride) and by DDIM's "
            f"(eta {m.ddim_eta}), from the same noise; judged accuracy / judge Frechet distance (floor "
            f"{m.fd_floor_train_vs_test:.0f}) on {m.num_samples} digits: {'; '.join(parts)}.")


def flow_items(params: Params, metrics: dict[str, MetricFile]) -> list[dict]:
    """The flow-matching models, the pure-noise denoiser and the DDPM-against-flow comparison, with captions that
    quote the measured numbers (metrics: as for sections)."""
    ft, fc, pn = params.flow_time, params.flow_class, params.pure_noise

    def samples(section: str, p: Generative, what: str) -> list[dict]:
        epochs = [*p.snapshot_epochs, p.epochs]
        srcs = [f"{section}/samples/samples_epoch{e}.png" for e in p.snapshot_epochs]
        srcs.append(f"{section}/samples/samples_final.png")
        return [item(src, f"{what}: samples after epoch {e}", f"{p.num_steps} Euler steps from pure noise"
                     + (f", CFG scale {p.guidance_scale}." if "guidance_scale" in type(p).model_fields else "."))
                for src, e in zip(srcs, epochs)]

    return [
        item("pure_noise/loss.png", "Denoising pure noise: training loss", f"The B1 denoiser (D = {pn.hidden}, "
             f"batch {pn.batch_size}, Adam {pn.lr}) trained to map z ~ N(0, I) to digits."),
        item("pure_noise/samples.png", "Denoising pure noise: what it learns",
             _quoting(metrics, "pure_noise/metrics.json", pure_noise_sentence)),
        item("flow_time/loss.png", "Flow matching, time-conditioned: training loss", f"u(x_t, t) regressed on "
             f"x1 - x0, x_t = (1 - t) x0 + t x1; D = {ft.hidden}, batch {ft.batch_size}, {ft.epochs} epochs, "
             f"Adam {ft.lr} decayed {ft.lr_final_factor}x."),
        *samples("flow_time", ft, "Flow matching, time-conditioned"),
        item("flow_time/trajectory.gif", "Flow matching: the Euler trajectory", f"From noise (t = 0) to digits "
             f"(t = 1), a frame every {ft.gif_every} step(s)."),
        item("flow_class/loss.png", "Flow matching, class-conditioned: training loss",
             f"p_uncond {fc.p_uncond}, D = {fc.hidden}, {fc.epochs} epochs."),
        *samples("flow_class", fc, "Flow matching, class-conditioned"),
        item("flow_class/trajectory.gif", "Flow matching, class-conditioned: the Euler trajectory",
             f"CFG on the velocity, u = u_uncond + {fc.guidance_scale} (u_cond - u_uncond)."),
        item("flow_class/cfg_accuracy.png", "Flow matching: judged accuracy vs CFG scale",
             f"{params.eval.num_samples} samples per scale, {fc.num_steps} Euler steps."),
        item("flow_class/cfg_fd.png", "Flow matching: judge Frechet distance vs CFG scale", ""),
        item("objectives/objectives.png", "DDPM against flow matching: digits per sampling step",
             _quoting(metrics, "objectives/metrics.json", objectives_sentence)),
    ]


def pure_noise_sentence(m: PureNoise) -> str:
    return ("The input z carries nothing about the digit it is paired with, so the L2 loss is minimised by the same "
            "image for every z, the mean training digit E[x]: the outputs lie "
            f"{m.rms_output_to_mean_digit:.3f} (RMS per pixel) from that mean and {m.rms_between_outputs:.3f} "
            f"from each other, while real digits lie {m.rms_digit_to_mean_digit:.3f} from it.")


def objectives_sentence(m: Objectives) -> str:
    """Who wins at each step count, final models: '5 steps: flow 0.93 / DDPM 0.12, ...'."""
    finals = {"DDPM": m.ddpm_final, "flow": m.flow_final}
    parts = [f"{k}: " + " / ".join(f"{name} {c.steps[k].judge_accuracy:.2f}" for name, c in finals.items()
                                   if k in c.steps)
             for k in sorted({k for c in finals.values() for k in c.steps})]
    return (f"Judged accuracy of the final models (DDPM after epoch {m.ddpm_final.epoch}, flow matching "
            f"after epoch {m.flow_final.epoch}) by sampling steps, {'; '.join(parts)}. Dashed: both at epoch "
            f"{m.ddpm_equal_epochs.epoch}. Each step is one batched call for both CFG estimates.")


def metric_tables(metrics: dict[str, MetricFile]) -> list[dict]:
    """One table of flattened metric -> value per file of METRICS, in its order, from the files read (file
    relative to reports/ -> its model), titled with the file's path so a reader can find the full numbers."""
    tables = []
    for title, name in METRICS.items():
        flat = flatten(metrics[name].model_dump())
        tables.append({"title": f"{title} ({(REPORTS / name).as_posix()})", "header": ["metric", "value"],
                       "rows": [[k, fmt(v)] for k, v in sorted(flat.items())]})
    return tables


QUICK_PROFILE = Path("profiles/quick.txt")


def profile_text(profile: str, quick_file: Path = QUICK_PROFILE) -> dict:
    """What the profile that ran is, in a line: the paper profile is the spec's numbers; the quick one says what it
    is (the short comment heading profiles/quick.txt; its history is in docs/results.md) and lists its overrides."""
    if profile != "quick":
        return {"name": profile, "about": "params.yaml as committed: the spec's numbers (docs/spec.md).",
                "overrides": []}
    lines = Path(quick_file).read_text().splitlines()
    about = " ".join(line.lstrip("# ").strip() for line in lines if line.startswith("#"))
    return {"name": profile, "about": about,
            "overrides": [f"{key}={value}" for key, value in read_overrides(quick_file).items()]}


def headline_rows(summary: dict) -> list[dict]:
    rows = goal_rows(summary)
    for row in rows:
        row["shown"] = f"not measured: {NOT_MEASURED.get(row['key'], 'no value')}" if row["value"] is None \
            else fmt(row["value"])
        row["interval_shown"] = f"[{fmt(row['interval'][0])}, {fmt(row['interval'][1])}]" if row["interval"] else ""
    return rows


def figure_sources(params: Params, metrics: dict[str, MetricFile]) -> list[str]:
    """Every figure the page shows, relative to reports/: what must exist before it is rendered."""
    return [figure["src"] for section in sections(params, metrics) for figure in section["items"]]


def glance(params: Params, summary: dict) -> list[dict]:
    """The two grids a reader looks at first, side by side under the headline: the time-conditioned DDPM's digits
    (no label asked for) and the class-conditioned DDPM's (each row a digit, guided), each with its distance."""
    def number(key: str) -> str:
        value = summary.get(key)
        return "not measured" if value is None else f"{value:g}"

    t, k = params.ddpm_time, params.ddpm_class
    return [item("ddpm_time/samples_final.png", "Time-conditioned DDPM: digits of its own choosing",
                 f"After {t.epochs} epochs; judge distance {number('fd_time')} (floor {number('fd_floor')})."),
            item("ddpm_class/samples_final.png", "Class-conditioned DDPM: the digits asked for",
                 f"After {k.epochs} epochs, CFG {k.guidance_scale}; judged right {number('acc_cfg')}, "
                 f"distance {number('fd_cfg')}.")]


def render(params: Params, metrics: dict[str, MetricFile], summary: dict, revision: str, profile: dict,
           params_yaml: str) -> str:
    """The HTML of the report page of one run, from that run's params (checked, and as params.yaml holds them,
    `params_yaml`), metric files (file relative to reports/ -> its model, every file of METRICS), headline
    (summary.json's keys and values), git revision and profile (profile_text): given, never read here, so the page
    shows exactly the run its caller read."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(
        sections=sections(params, metrics), glance=glance(params, summary), metrics=metric_tables(metrics),
        revision=revision,
        parta_model=params.parta.model, profile=profile, headline=headline_rows(summary),
        goal_source=GOAL_SOURCES.get(profile["name"], "none for this profile"),
        params_yaml=params_yaml)
