"""The headline of a run: the dozen numbers that say how good it was, gathered from the stages' metric files into
reports/summary.json (declared as metrics, so `dvc exp show` and `dvc metrics diff` compare runs on them), and the
goals the project has set for them (README; the report page shows each figure beside its goal).

Keys are short and values rounded on purpose: they are the columns of `make compare` (difflab/compare.py) in a
120-column terminal; the full-precision numbers stay in the files they come from.
"""

import json
from pathlib import Path

REPORTS = Path("reports")
SOURCES = {  # the metric files the headline is read from (the stage's deps)
    "ood": REPORTS / "denoiser/ood.json",
    "time": REPORTS / "ddpm_time/eval.json",
    "class": REPORTS / "ddpm_class/eval.json",
    "flow_time": REPORTS / "flow_time/eval.json",
    "flow_class": REPORTS / "flow_class/eval.json",
    "parta": REPORTS / "eval_parta/metrics.json",
    "judge": REPORTS / "judge/metrics.json",
    "train_denoiser": REPORTS / "denoiser/train/metrics.json",
    "train_time": REPORTS / "ddpm_time/train/metrics.json",
    "train_class": REPORTS / "ddpm_class/train/metrics.json",
}

# key -> (what it is: the report's row label, decimals kept)
HEADLINE = {
    "profile": ("profile that ran", None),
    "psnr": ("denoiser: test PSNR (dB) at its training sigma", 2),
    "fd_time": ("time model: judge Frechet distance to the test set", 1),
    "fd_floor": ("Frechet floor: real training digits to the test set", 1),
    "acc_cfg": ("class model: judged accuracy at its CFG scale", 3),
    "fd_cfg": ("class model: judge Frechet distance at its CFG scale", 1),
    "fd_flow_time": ("flow matching, time model: judge Frechet distance to the test set", 1),
    "acc_flow": ("flow matching, class model: judged accuracy at its CFG scale", 3),
    "fd_flow": ("flow matching, class model: judge Frechet distance at its CFG scale", 1),
    "anagram": ("part A: anagram success, mean over pairs", 3),
    "hybrid": ("part A: hybrid success, mean over pairs", 3),
    "inpaint": ("part A: inpainting keeps the label, mean over masks", 3),
    "sdedit": ("part A: SDEdit keeps the label, mean over i_start", 3),
    "judge_acc": ("the judge's own test accuracy", 3),
    "s_denoiser": ("denoiser: training seconds", 1),
    "s_time": ("time model: training seconds", 1),
    "s_class": ("class model: training seconds", 1),
}

# Why a headline number can be missing (None in summary.json)
NOT_MEASURED = {
    "psnr": "denoiser.sigma is not among denoiser.sigmas",
    "acc_cfg": "ddpm_class.guidance_scale is not among eval.guidance_scales",
    "fd_cfg": "ddpm_class.guidance_scale is not among eval.guidance_scales",
    "acc_flow": "flow_class.guidance_scale is not among eval.guidance_scales",
    "fd_flow": "flow_class.guidance_scale is not among eval.guidance_scales",
    "s_denoiser": "trained before training times were logged",
    "s_time": "trained before training times were logged",
    "s_class": "trained before training times were logged",
}

# Goals by profile (issue 7 set them): key -> (comparison, bound, the headline key the bound multiplies or None)
GOALS = {
    "quick": {"psnr": (">=", 20.0, None), "fd_time": ("<=", 3.0, "fd_floor"), "acc_cfg": (">=", 0.95, None),
              "fd_flow_time": ("<=", 3.0, "fd_floor")},
    "paper": {"acc_cfg": (">=", 0.99, None), "fd_cfg": ("<=", 3.0, "fd_floor")},
}


def _at(entries: dict, prefix: str, value: float) -> dict | None:
    """The entry `<prefix><number>` whose number equals value (keys are written from YAML: 0.5, 3.0, 3)."""
    for key, entry in entries.items():
        if key.startswith(prefix):
            try:
                if float(key[len(prefix):]) == float(value):
                    return entry
            except ValueError:
                continue
    return None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def headline(metrics: dict[str, dict], profile: str, sigma: float, guidance_scale: float,
             flow_guidance_scale: float) -> dict:
    """The headline from the metric files' contents (SOURCES' keys). A number that the run did not measure (the
    denoiser's sigma not among denoiser.sigmas, a class model's CFG scale not among eval.guidance_scales) is None."""
    ood = _at(metrics["ood"], "sigma_", sigma)
    cfg = _at(metrics["class"], "cfg_", guidance_scale)
    flow = _at(metrics["flow_class"], "cfg_", flow_guidance_scale)
    parta = metrics["parta"]

    def mean_of(prefix: str, key: str) -> float | None:
        return _mean([v[key] for k, v in parta.items() if k.startswith(prefix) and isinstance(v, dict)])

    values = {
        "profile": profile,
        "psnr": ood["psnr_db"] if ood else None,
        "fd_time": metrics["time"]["fd_to_test"],
        "fd_floor": metrics["time"]["fd_floor_train_vs_test"],
        "acc_cfg": cfg["judge_accuracy"] if cfg else None,
        "fd_cfg": cfg["fd_to_test"] if cfg else None,
        "fd_flow_time": metrics["flow_time"]["fd_to_test"],
        "acc_flow": flow["judge_accuracy"] if flow else None,
        "fd_flow": flow["fd_to_test"] if flow else None,
        "anagram": mean_of("anagram_", "success"),
        "hybrid": mean_of("hybrid_", "success"),
        "inpaint": mean_of("inpaint_", "label_kept"),
        "sdedit": mean_of("sdedit_", "label_kept"),
        "judge_acc": metrics["judge"]["test_accuracy"],
        "s_denoiser": metrics["train_denoiser"]["train"].get("seconds"),
        "s_time": metrics["train_time"]["train"].get("seconds"),
        "s_class": metrics["train_class"]["train"].get("seconds"),
    }
    return {k: round(v, HEADLINE[k][1]) if isinstance(v, float) else v for k, v in values.items()}


def read_metrics(sources: dict[str, Path] = SOURCES) -> dict[str, dict]:
    missing = [str(p) for p in sources.values() if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"the headline needs {missing}: run the stages that make them first")
    return {name: json.loads(Path(path).read_text()) for name, path in sources.items()}


def goal_rows(summary: dict) -> list[dict]:
    """One row per headline number: label, value, goal text ('' where none), met (True / False / None)."""
    goals = GOALS.get(summary.get("profile"), {})
    rows = []
    for key, (label, _) in HEADLINE.items():
        value, goal, met = summary.get(key), "", None
        if key in goals:
            op, bound, relative_to = goals[key]
            limit = bound * summary[relative_to] if relative_to and summary.get(relative_to) is not None else bound
            goal = f"{op} {bound:g} x {relative_to} ({limit:.4g})" if relative_to else f"{op} {bound:g}"
            if isinstance(value, (int, float)):
                met = value >= limit if op == ">=" else value <= limit
        rows.append({"key": key, "label": label, "value": value, "goal": goal, "met": met})
    return rows
