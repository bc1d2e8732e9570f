"""Part A's experiments (PART_A), in the spec's order: each one's name (its function in parta/experiments.py, its figure
reports/<stage>/<name>.png, its section parta.<model>.<name>) and the keys of its own section that hold prompts
(stages/embed_prompts.py embeds them into one conditions file per experiment). What each experiment's stage reads is
dvc.yaml's to say (parta and parta_flow, a foreach over the same names: tests/test_dvc_yaml.py names a missing one).
How the report heads and captions each is reporting/parta_captions.py's. docs/architecture.md walks through adding
one.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str  # its function in parta/experiments.py, figure reports/parta/<name>.png, section parta.<model>.<name>
    prompts: tuple[str, ...] = ()  # the keys of its own section that hold prompts (the conditions it looks up)


# In the spec's order (SPEC A0 - A1.9, then what goes beyond it).
PART_A = (
    Experiment("sample", prompts=("prompts",)),
    Experiment("forward"),
    Experiment("blur"),
    Experiment("one_step", prompts=("prompt",)),
    Experiment("velocity", prompts=("prompt",)),
    Experiment("iterative", prompts=("prompt",)),
    Experiment("sample_noise", prompts=("prompts",)),
    Experiment("cfg", prompts=("prompts",)),
    Experiment("sdedit", prompts=("prompt",)),
    Experiment("sdedit_drawings", prompts=("prompt",)),
    Experiment("inpaint", prompts=("prompt",)),
    Experiment("translate", prompts=("prompt",)),
    Experiment("anagram", prompts=("anagrams",)),
    Experiment("hybrid", prompts=("pairs",)),
    Experiment("factorized", prompts=("items",)),
)
BY_NAME = {e.name: e for e in PART_A}
