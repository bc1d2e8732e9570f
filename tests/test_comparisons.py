"""evaluation.comparisons: which weights the objectives comparison judges, and the samplers comparison's check of
its step counts before any sampling."""

import pytest
from helpers import ROOT

from difflab.config.params import ParamError, load
from difflab.errors import InputError
from difflab.evaluation.comparisons import check_step_counts, objective_runs


def test_the_comparison_needs_an_epoch_both_models_saved():
    p = load(ROOT / "params.yaml")
    runs = {column: (section, epoch, str(path)) for column, section, epoch, path in objective_runs(p)}
    assert runs == {"ddpm_final": ("ddpm_class", 20, "models/ddpm_class/final.safetensors"),
                    "flow_final": ("flow_class", 10, "models/flow_class/final.safetensors"),
                    "ddpm_equal_epochs": ("ddpm_class", 5, "models/ddpm_class/snapshot.safetensors"),
                    "flow_equal_epochs": ("flow_class", 5, "models/flow_class/epoch5.safetensors")}
    p = p.model_copy(update={"flow_class": p.flow_class.model_copy(update={"snapshot_epochs": [1, 4]})})
    with pytest.raises(ParamError, match=r"ddpm_class saves weights after epochs \[5, 20\] and flow_class after "
                                         r"\[1, 4, 10\]: no epoch in common"):
        objective_runs(p)


def test_a_step_count_above_the_ddpms_T_is_refused():
    meta = {"objective": "ddpm", "num_timesteps": 50, "beta_start": 1e-4, "beta_end": 0.02}
    check_step_counts(meta, [1, 10, 50])
    with pytest.raises(InputError, match=r"num_steps=51; allowed for a DDPM: 1 .. T \(50\)"):
        check_step_counts(meta, [10, 51])
