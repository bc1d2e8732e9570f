"""The headline of a run (difflab/reporting/summary.py) against hand-computed values, its goals, and the filters of
`make compare` (difflab/reporting/compare.py) against the column names DVC gives this project's metrics and params."""

import re

import pytest
from helpers import ROOT, headline_file

from difflab.config.metric_files import FILES
from difflab.reporting.compare import SHOWN, show_args
from difflab.reporting.summary import HEADLINE, REPORTS, SOURCES, goal_rows, headline


def metric_files(scale_key="cfg_3.0", sigma_key="sigma_0.5"):
    """The metric files the headline reads, each as its writer writes it (numbers chosen by hand), through its
    model."""
    def judged(accuracy, fd, lo, hi):
        return {"judge_accuracy": accuracy, "fd_to_test": fd, "fd_to_test_lo": lo, "fd_to_test_hi": hi}

    def denoised(psnr, lo, hi):
        return {"mse": 0.01, "psnr_db": psnr, "psnr_db_lo": lo, "psnr_db_hi": hi, "n": 2000, "noisy_mse": 0.25,
                "noisy_psnr_db": 6.02}

    def part_a(anagrams, hybrids, masks, start, starts, seeds):
        return {**{f"anagram_identity-{i}_flip-9": {"success": r, "ok_identity": 1.0, "ok_flip": r}
                   for i, r in enumerate(anagrams)},
                **{f"hybrid_{i}_7": {"success": r, "far_ok": 1.0, "near_ok": r} for i, r in enumerate(hybrids)},
                "bands_1_2_3": {"success": 0.0, "low_ok": 1.0, "mid_ok": 0.5, "high_ok": 0.0},
                **{f"inpaint_mask_{i}": {"label_kept": r, "mask": "[0.0, 1.0, 0.0, 1.0]"} for i, r in enumerate(masks)},
                **{f"sdedit_{start}_{k}": {"label_kept": r} for k, r in starts.items()}, "seeds": seeds}

    floor = {"fd_floor_train_vs_test": 22.22, "fd_floor_train_vs_test_lo": 21.01, "fd_floor_train_vs_test_hi": 23.43,
             "num_samples": 200, "bootstrap_resamples": 200}
    files = {
        "ood": {"sigma_0.2": denoised(30.0, 29.9, 30.1), sigma_key: denoised(20.123456, 19.91, 20.338)},
        "time": {"fd_to_test": 44.44, "fd_to_test_lo": 40.04, "fd_to_test_hi": 48.84, **floor},
        "class": {"cfg_0.0": judged(0.1, 130.0, 120.0, 140.0), scale_key: judged(0.99512, 51.06, 46.06, 56.06),
                  **floor},
        "flow_time": {"fd_to_test": 61.26, "fd_to_test_lo": 55.0, "fd_to_test_hi": 67.52, **floor},
        "flow_class": {"cfg_3.0": judged(0.5, 90.0, 80.0, 100.0), "cfg_5.0": judged(0.97049, 48.96, 44.0, 54.0),
                       **floor},
        "parta": part_a([0.5, 1.0], [0.0, 0.25], [0.2, 0.6], "i_start", {1: 0.1, 20: 0.9}, 50),
        "parta_flow": part_a([0.9, 0.5], [0.0], [0.4], "t_start", {"0p02": 0.1, "0p5": 0.7}, 20),
        "judge": {"test_accuracy": 0.97589, "n": 10000},
        "train_denoiser": {"train": {"loss": 0.01, "seconds": 63.04}},
        "train_time": {"train": {"loss": 0.03, "seconds": 129.0}},
        "train_class": {"train": {"loss": 0.03}},  # a model trained before seconds were logged
    }
    return {name: FILES[SOURCES[name].relative_to(REPORTS).as_posix()].model_validate(data)
            for name, data in files.items()}


def test_headline_reads_the_numbers_at_the_configured_sigma_and_scale():
    h = headline(metric_files(), "quick", 0.5, 3, 5).model_dump()
    assert list(h)[:len(HEADLINE)] == list(HEADLINE)
    assert {k: h[k] for k in HEADLINE} == {
        "profile": "quick", "psnr": 20.12, "fd_time": 44.4, "fd_floor": 22.2, "acc_cfg": 0.995, "fd_cfg": 51.1,
        "fd_flow_time": 61.3, "acc_flow": 0.970, "fd_flow": 49.0, "anagram": 0.75, "hybrid": 0.125, "inpaint": 0.4,
        "sdedit": 0.5, "anagram_flow": 0.7, "hybrid_flow": 0.0, "inpaint_flow": 0.4, "sdedit_flow": 0.4,
        "judge_acc": 0.976, "s_denoiser": 63.0, "s_time": 129.0, "s_class": None}


def test_each_measurement_comes_with_its_interval_and_count():
    h = headline(metric_files(), "quick", 0.5, 3, 5).model_dump()
    extra = {k: v for k, v in h.items() if k not in HEADLINE}
    # what the metric files give, rounded as the number is
    assert {k: extra[k] for k in ("psnr_lo", "psnr_hi", "psnr_n")} == {"psnr_lo": 19.91, "psnr_hi": 20.34,
                                                                      "psnr_n": 2000}
    assert (extra["fd_time_lo"], extra["fd_time_hi"], extra["fd_time_n"]) == (40.0, 48.8, 200)
    assert (extra["fd_floor_lo"], extra["fd_floor_hi"]) == (21.0, 23.4)
    # rates: Wilson's interval, by hand: 199 of 200 judged right -> [0.9722, 0.9991]; the anagrams pooled over
    # their two pairs of 50 seeds each, 25 + 50 of 100 -> [0.6570, 0.8245]
    assert (extra["acc_cfg_lo"], extra["acc_cfg_hi"], extra["acc_cfg_n"]) == (0.972, 0.999, 200)
    assert (extra["anagram_lo"], extra["anagram_hi"], extra["anagram_n"]) == (0.657, 0.825, 100)
    assert extra["inpaint_n"] == extra["sdedit_n"] == extra["hybrid_n"] == 100
    assert (extra["fd_cfg_lo"], extra["fd_cfg_hi"], extra["fd_cfg_n"]) == (46.1, 56.1, 200)  # at the scale asked
    assert (extra["fd_flow_time_lo"], extra["fd_flow_time_hi"]) == (55.0, 67.5)
    assert not {k for k in extra if k.startswith("s_")}  # no interval for the training times
    # the judge's own accuracy on the 10,000 test digits: 9,759 right -> [0.9727, 0.9787] by hand
    assert (extra["judge_acc_lo"], extra["judge_acc_hi"], extra["judge_acc_n"]) == (0.973, 0.979, 10000)


def test_numbers_the_run_did_not_measure_are_none():
    h = headline(metric_files(scale_key="cfg_5.0", sigma_key="sigma_0.6"), "paper", 0.5, 3.0, 7.0).model_dump()
    assert h["acc_cfg"] is None and h["fd_cfg"] is None and h["psnr"] is None and h["anagram"] == 0.75
    assert h["acc_flow"] is None and h["fd_flow"] is None and h["fd_flow_time"] == 61.3
    assert not {f"{k}_{end}" for k in ("acc_cfg", "fd_cfg", "psnr", "acc_flow", "fd_flow") for end in ("lo", "hi", "n")
                } & set(h)  # nor their intervals


@pytest.mark.parametrize("acc, fd, verdicts", [(0.995, 60.0, ("met", "met")), (0.98, 70.0, ("missed", "missed"))])
def test_paper_goals(acc, fd, verdicts):
    rows = {r["key"]: r for r in goal_rows({"profile": "paper", "acc_cfg": acc, "fd_cfg": fd, "fd_floor": 22.2})}
    assert (rows["acc_cfg"]["verdict"], rows["fd_cfg"]["verdict"]) == verdicts  # no interval: the value decides
    assert rows["fd_cfg"]["goal"] == "<= 3 x fd_floor (66.6)" and rows["acc_cfg"]["goal"] == ">= 0.99"
    assert rows["fd_time"]["goal"] == "<= 3 x fd_floor (66.6)" and rows["anagram"]["goal"] == ">= 0.6"
    assert rows["judge_acc"]["goal"] == "" and rows["judge_acc"]["verdict"] == ""  # no goal for the instrument


def test_a_goal_is_read_through_the_interval():
    summary = {"profile": "quick", "psnr": 20.3, "psnr_lo": 19.8, "psnr_hi": 20.8, "psnr_n": 2000,
               "acc_cfg": 0.985, "acc_cfg_lo": 0.957, "acc_cfg_hi": 0.995, "acc_cfg_n": 200,
               "fd_flow_time": 70.0, "fd_flow_time_lo": 67.0, "fd_flow_time_hi": 73.0, "fd_floor": 22.0}
    rows = {r["key"]: r for r in goal_rows(summary)}
    assert rows["psnr"]["verdict"] == "within noise" and rows["psnr"]["interval"] == (19.8, 20.8)
    assert rows["psnr"]["n"] == 2000
    assert rows["acc_cfg"]["verdict"] == "met"  # the whole interval above 0.95
    assert rows["fd_flow_time"]["verdict"] == "missed"  # the whole interval above 3 x 22.0


def test_quick_goals_leave_the_time_ddpm_to_its_interval_and_a_missing_value_unread():
    rows = {r["key"]: r for r in goal_rows({"profile": "quick", "psnr": 20.3, "fd_time": 104.0, "fd_floor": 22.0,
                                            "acc_cfg": None})}
    assert rows["psnr"]["verdict"] == "met" and rows["acc_cfg"]["verdict"] == ""
    assert rows["fd_time"]["verdict"] == "" and "over seeds" in rows["fd_time"]["goal"]  # no goal: its seed spread


# Column names as `dvc exp show` gives them for this project (a metric and a param that share a name get their
# file's path in front: profile).
COLUMNS = ["Experiment", "Created", "reports/summary.json:profile", "params.yaml:profile", "psnr", "fd_time",
           "fd_floor", "acc_cfg", "fd_cfg", "anagram", "hybrid", "inpaint", "sdedit", "judge_acc", "s_denoiser",
           "sigma_0.5.psnr_db", "cfg_3.0.judge_accuracy", "fd_to_test", "test_accuracy",
           "anagram_identity-6_flip-9.success", "reports/denoiser/train/metrics.json:train.loss", "seeds", "seed",
           "ddpm_class.guidance_scale", "eval.guidance_scales", "denoiser.epochs", "data/dataset", "src/difflab/models/unet.py",
           "models/judge", "ddpm_final.steps_5.judge_accuracy", "flow_equal_epochs.epoch",  # compare_objectives'
           "fixed_small.steps_5.fd_to_test", "fixed_large.steps_5.judge_accuracy", "ddim.steps_5.judge_accuracy",
           "ddim_eta"]  # and compare_samplers' metrics


def test_compare_keeps_the_headline_and_the_params_and_drops_the_rest():
    args = show_args(["profile", "seed", "data", "denoiser", "ddpm", "ddpm_class", "flow_class", "eval", "samplers"])
    keep = re.compile(args[args.index("--keep") + 1])
    drop = re.compile(args[args.index("--drop") + 1])
    assert "--only-changed" in args and args[:3] == ["dvc", "exp", "show"]
    assert [c for c in COLUMNS if keep.match(c)] == ["Experiment", *SHOWN]
    left = [c for c in COLUMNS if not drop.match(c)]
    assert left == ["Experiment", "params.yaml:profile", *SHOWN,
                    "seed", "ddpm_class.guidance_scale", "eval.guidance_scales", "denoiser.epochs"]


def test_no_headline_key_is_also_a_params_section():
    """A headline column named like a params.yaml section (`judge`) would pass the --drop filter as a param."""
    import yaml

    sections = set(yaml.safe_load((ROOT / "params.yaml").read_text()))
    assert set(HEADLINE) & sections == {"profile"}  # the one shared name, which DVC prefixes with each file's path


def test_the_report_says_what_the_quick_profile_cut():
    from difflab.config.profiles import read_overrides
    from difflab.reporting.report import profile_text

    quick = ROOT / "profiles/quick.txt"
    text = profile_text("quick", quick)
    assert text["about"].startswith("The quick profile: ") and "#" not in text["about"]
    assert len(text["about"]) < 300 and "docs/results.md" in text["about"]  # a line; its history in the docs
    assert text["overrides"][:3] == ["profile=quick", "threads=1", "denoiser.hidden=16"]
    assert len(text["overrides"]) == len(read_overrides(quick))
    assert profile_text("paper", quick)["overrides"] == []


def test_the_report_says_which_objective_draws_better_digits_per_step():
    from difflab.config.metric_files import Objectives, PureNoise
    from difflab.reporting.report import objectives_sentence, pure_noise_sentence

    m = Objectives.model_validate(_objectives({5: 0.104, 300: 0.991}, {5: 0.93, 300: 0.985, 400: 0.99}))
    text = objectives_sentence(m)
    assert "(DDPM after epoch 20, flow matching after epoch 10)" in text
    assert "5: DDPM 0.10 / flow 0.93; 300: DDPM 0.99 / flow 0.98; 400: flow 0.99." in text  # 400 > T: flow only
    assert "Dashed: both at epoch 5." in text
    noise = pure_noise_sentence(PureNoise.model_validate(_pure_noise(0.0123, 0.004, 0.29)))
    assert "the outputs lie 0.012 (RMS per pixel) from that mean and 0.004 from each other" in noise
    assert "real digits lie 0.290 from it" in noise


def test_the_report_says_what_each_sampler_gives_per_step():
    """One entry per column compare_samplers wrote (the DDPM step per variance, DDIM), each with its own numbers."""
    from difflab.config.metric_files import Samplers
    from difflab.reporting.report import samplers_sentence

    m = {"fixed_small": {"steps_5": {"judge_accuracy": 0.96, "fd_to_test": 60.2},
                         "steps_10": {"judge_accuracy": 0.99, "fd_to_test": 44.6}},
         "fixed_large": {"steps_5": {"judge_accuracy": 0.97, "fd_to_test": 155.7},
                         "steps_10": {"judge_accuracy": 1.0, "fd_to_test": 49.5}},
         "ddim": {"steps_5": {"judge_accuracy": 0.98, "fd_to_test": 39.1},
                  "steps_10": {"judge_accuracy": 0.975, "fd_to_test": 39.4}},
         "ddim_eta": 0.0, "fd_floor_train_vs_test": 22.1, "num_samples": 200}
    text = samplers_sentence(Samplers.model_validate(m))
    assert "(noise fixed_small or fixed_large:" in text and "and by DDIM's (eta 0.0)" in text
    assert "(floor 22) on 200 digits" in text
    assert ("5 steps: DDPM fixed_small 0.96 / 60, DDPM fixed_large 0.97 / 156, DDIM 0.98 / 39; "
            "10 steps: DDPM fixed_small 0.99 / 45, DDPM fixed_large 1.00 / 50, DDIM 0.97 / 39.") in text
    del m["fixed_large"]  # samplers.variances: [fixed_small]
    assert "10 steps: DDPM fixed_small 0.99 / 45, DDIM 0.97 / 39." in samplers_sentence(Samplers.model_validate(m))


def _samplers(ddim_accuracy: float) -> dict:
    """compare_samplers' metrics with one number that tells the runs apart: DDIM's accuracy at 5 steps."""
    row = {"judge_accuracy": 0.5, "fd_to_test": 99.0}
    steps = {"steps_5": row}
    return {"fixed_small": steps, "fixed_large": steps,
            "ddim": {"steps_5": {"judge_accuracy": ddim_accuracy, "fd_to_test": 42.0}},
            "ddim_eta": 0.0, "fd_floor_train_vs_test": 22.0, "num_samples": 200}


def _objectives(ddpm: dict[int, float], flow: dict[int, float], equal_epoch: int = 5) -> dict:
    """compare_objectives' metrics with these accuracies by step count after the last epoch (DDPM epoch 20, flow
    epoch 10), and both at `equal_epoch` (accuracies 0.5)."""
    def column(epoch, accuracies):
        return {"epoch": epoch, **{f"steps_{k}": {"judge_accuracy": a, "fd_to_test": 50.0}
                                   for k, a in accuracies.items()}}
    return {"ddpm_final": column(20, ddpm), "flow_final": column(10, flow),
            "ddpm_equal_epochs": column(equal_epoch, dict.fromkeys(ddpm, 0.5)),
            "flow_equal_epochs": column(equal_epoch, dict.fromkeys(flow, 0.5)),
            "fd_floor_train_vs_test": 22.0, "num_samples": 1000}


def _pure_noise(to_mean: float, between: float, digit: float) -> dict:
    return {"rms_output_to_mean_digit": to_mean, "rms_between_outputs": between, "rms_digit_to_mean_digit": digit,
            "rms_output_to_mean_digit_epoch1": 2 * to_mean}


def _run_files(params: dict, ddim_accuracy: float, psnr: float, rms: float, flow_accuracy: float) -> dict:
    """reports/ and params.yaml of one run, as compare_page.read would return them (text, figures as bytes)."""
    import json

    import yaml

    from difflab.config.params import check
    from difflab.reporting.report import sections

    files = {"params.yaml": yaml.safe_dump(params), "reports/summary.json": headline_file(psnr=psnr),
             "reports/samplers/metrics.json": json.dumps(_samplers(ddim_accuracy)),
             "reports/pure_noise/metrics.json": json.dumps(_pure_noise(rms, 0.001, 0.3)),
             "reports/objectives/metrics.json": json.dumps(_objectives({5: 0.1}, {5: flow_accuracy}))}
    for section in sections(check(params), {}):
        for item in section["items"]:
            files[f"reports/{item['src']}"] = f"{psnr} {item['src']}".encode()  # a figure that names its run
    return files


def test_the_comparison_page_shows_each_run_its_own_numbers_and_figures(tmp_path, monkeypatch):
    """Catches a column captioned or filled from the other run or from the workspace (whose reports/ holds a third
    run's numbers here), and a figure only the second run has (another snapshot epoch) left out."""
    import re

    import yaml

    from difflab.reporting import compare_page

    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    params_b = yaml.safe_load(yaml.safe_dump(base))
    params_b["ddpm_class"]["guidance_scale"] = 7.5
    params_b["flow_time"]["snapshot_epochs"] = [*base["flow_time"]["snapshot_epochs"], 99]
    params_b["flow_time"]["epochs"] = 100
    runs = {"run-a": _run_files(base, 0.61, 20.5, 0.011, 0.71),
            "run-b": _run_files(params_b, 0.83, 31.25, 0.022, 0.92)}
    workspace = _run_files(base, 0.27, 7.75, 0.033, 0.13)
    for name, data in workspace.items():  # the workspace's own results, which neither column may show
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_page, "read", lambda path, rev, mode="r": runs[rev].get(path))

    page = compare_page.render_comparison("run-a", "run-b", tmp_path / "compare").read_text()

    headline = re.search(r"<code>psnr</code></td>\s*<td>(.*?)</td><td>(.*?)</td>", page)
    assert headline.groups() == ("20.5", "31.25")

    def sides(title: str) -> dict[str, str]:
        block = page.split(f"<h3>{title}</h3>")[1].split("<h3>")[0]
        return dict(re.findall(r'<figure class="side" data-run="([^"]+)">(.*?)</figure>', block, re.S))
    ddim = sides("DDIM against the DDPM step: digits per sampling step")
    assert "DDIM 0.61 / 42" in ddim["run-a"] and "DDIM 0.83 / 42" in ddim["run-b"]
    noise = sides("Denoising pure noise: what it learns")
    assert "lie 0.011 (RMS" in noise["run-a"] and "lie 0.022 (RMS" in noise["run-b"]
    objectives = sides("DDPM against flow matching: digits per sampling step")
    assert "flow 0.71" in objectives["run-a"] and "flow 0.92" in objectives["run-b"]
    cfg = sides("B3 Samples after epoch {}".format(base["ddpm_class"]["epochs"]))
    assert f"CFG scale {base['ddpm_class']['guidance_scale']}." in cfg["run-a"] and "CFG scale 7.5." in cfg["run-b"]
    assert "0.27" not in page and "0.033" not in page and "7.75" not in page  # nothing from the workspace
    # each column's image is its own run's file, and a figure only run B has gets a column with nothing in A's
    out = tmp_path / "compare" / "run-a_vs_run-b"
    for rev, psnr in (("run-a", 20.5), ("run-b", 31.25)):
        assert (out / rev / "samplers/samplers.png").read_bytes() == f"{psnr} samplers/samplers.png".encode()
    only_b = sides("Flow matching, time-conditioned: samples after epoch 99")
    assert "not in run-a" in only_b["run-a"] and 'src="run-b/flow_time/samples/samples_epoch99.png"' in only_b["run-b"]


def test_the_part_a_caption_names_the_step_the_run_took():
    """A run with the old grainy step, or with DDIM, is not captioned as the default posterior-noise step."""
    from difflab.config.schema import Common
    from difflab.reporting.parta_captions import stepping

    def common(**knobs):
        return Common.model_construct(**knobs)

    assert stepping(common(sampler="ddpm", variance="fixed_small", ddim_eta=0.0)).endswith("sqrt(beta_tilde)")
    assert "sqrt(beta) of the whole stride" in stepping(common(sampler="ddpm", variance="fixed_large", ddim_eta=0.0))
    assert stepping(common(sampler="ddim", variance="fixed_small", ddim_eta=0.5)) == "DDIM's step (eta 0.5)"


def test_the_quick_profile_wants_the_flow_time_model_within_3x_of_the_floor():
    rows = {r["key"]: r for r in goal_rows({"profile": "quick", "fd_time": 54.7, "fd_flow_time": 70.0,
                                            "fd_floor": 21.8})}
    assert rows["fd_flow_time"]["verdict"] == "missed" and rows["fd_flow_time"]["goal"] == "<= 3 x fd_floor (65.4)"
    assert rows["fd_time"]["verdict"] == ""  # the paper profile's goal, not the quick one's


def test_the_comparison_page_says_which_differences_are_more_than_noise(tmp_path, monkeypatch):
    import json
    import re

    import yaml

    from difflab.reporting import compare_page

    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    runs = {"run-a": _run_files(base, 0.61, 20.5, 0.011, 0.71), "run-b": _run_files(base, 0.83, 31.25, 0.022, 0.92)}
    runs["run-a"]["reports/summary.json"] = headline_file(psnr=20.5, fd_time=80.0, psnr_lo=20.1, psnr_hi=20.9,
                                                          psnr_n=2000, fd_time_lo=70.0, fd_time_hi=90.0, fd_time_n=200)
    runs["run-b"]["reports/summary.json"] = headline_file(psnr=31.25, fd_time=75.0, psnr_lo=30.5, psnr_hi=32.0,
                                                          psnr_n=2000, fd_time_lo=66.0, fd_time_hi=84.0, fd_time_n=200)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_page, "read", lambda path, rev, mode="r": runs[rev].get(path))
    page = compare_page.render_comparison("run-a", "run-b", tmp_path / "compare").read_text()

    def row(key):
        return re.search(rf"<code>{key}</code></td>\s*<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", page).groups()
    assert row("psnr") == ("20.5 [20.1, 20.9]", "31.25 [30.5, 32]", "differs")
    assert row("fd_time") == ("80 [70, 90]", "75 [66, 84]", "within noise")
    assert row("fd_cfg") == ("not measured", "not measured", "")


def test_the_comparison_page_shows_the_published_reference_of_the_runs_profile(tmp_path, monkeypatch):
    """A results/<name>/ reference of run B's profile is a third column, with B's difference from it; none without."""
    import json
    import re

    import yaml

    from difflab.reporting import compare_page

    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    runs = {"run-a": _run_files(base, 0.61, 20.5, 0.011, 0.71), "run-b": _run_files(base, 0.83, 31.25, 0.022, 0.92)}
    runs["run-b"]["reports/summary.json"] = headline_file(psnr=31.25, psnr_lo=30.5, psnr_hi=32.0, psnr_n=2000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_page, "read", lambda path, rev, mode="r": runs[rev].get(path))
    page = compare_page.render_comparison("run-a", "run-b", tmp_path / "compare").read_text()
    assert "(reference)" not in page
    folder = tmp_path / "results" / "paper-gpu-2026-12-04"
    (folder / "reports").mkdir(parents=True)
    (folder / "reports" / "summary.json").write_text(headline_file(profile=base["profile"], psnr=20.85,
                                                                   psnr_lo=20.81, psnr_hi=20.88, psnr_n=10000))
    (folder / "params.yaml").write_text(yaml.safe_dump(base))
    page = compare_page.render_comparison("run-a", "run-b", tmp_path / "compare").read_text()
    assert "<th class=\"reference\">paper-gpu-2026-12-04 (reference)</th><th>run-b vs reference</th>" in page
    row = re.search(r"<code>psnr</code></td>\s*<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>\s*"
                    r"<td class=\"reference\">(.*?)</td><td>(.*?)</td>", page).groups()
    assert row == ("20.5", "31.25 [30.5, 32]", "", "20.85 [20.81, 20.88]", "differs")
    assert "results/paper-gpu-2026-12-04/" in page
