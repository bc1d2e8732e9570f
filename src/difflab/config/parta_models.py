"""The models part A runs on, written once for the schema, the stages, the evaluation, the report and the explorer:
each one's section of params.yaml, the objective its checkpoint holds, its stages and their folders, and how figures
name it. Imports nothing, so the schema's names follow it without making every stage depend on more than this table.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PartAModel:
    section: str  # parta.<section> in params.yaml
    objective: str | None  # core/objectives' name of what its checkpoint was trained on (None: not one of ours)
    stage: str  # its stages <stage>@<experiment>, writing reports/<stage>/<experiment>.png
    evaluation: str | None  # its judged stage, writing reports/<evaluation>/ (metric_files.FILES: its metrics' model)
    label: str  # how figures name it

    @property
    def metrics(self) -> str:
        """Its evaluation's metrics file, relative to reports/."""
        return f"{self.evaluation}/metrics.json"


PART_A_MODELS = {m.section: m for m in (
    PartAModel("mnist", "ddpm", "parta", "eval_parta", "MNIST model"),
    PartAModel("mnist_flow", "flow", "parta_flow", "eval_parta_flow", "MNIST flow model"),
    PartAModel("deepfloyd_if", None, "parta", None, "DeepFloyd IF"),
)}
JUDGED = tuple(m for m in PART_A_MODELS.values() if m.evaluation)  # the part A models eval_parta* judge
BY_OBJECTIVE = {m.objective: m for m in PART_A_MODELS.values() if m.objective}  # an MNIST checkpoint's part A model
