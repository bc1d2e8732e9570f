"""Stage summary: reports/summary.json, the run's headline numbers (difflab/reporting/summary.py) from the other stages'
metric files: what `make compare` (dvc exp show) and `dvc metrics diff` compare runs on."""

from difflab.config.params import stage_params
from difflab.errors import exit_on_input_error
from difflab.reporting.summary import REPORTS, headline, read_metrics


def main() -> None:
    params, _ = stage_params(__doc__)
    summary = headline(read_metrics(), params.profile, params.denoiser.sigma,
                       params.ddpm_class.guidance_scale, params.flow_class.guidance_scale)
    out = REPORTS / "summary.json"
    summary.write(out)
    print(f"wrote {out}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in summary.model_dump().items()))


if __name__ == "__main__":
    with exit_on_input_error("summary"):  # a damaged input file or a bad value: one line, exit 2
        main()
