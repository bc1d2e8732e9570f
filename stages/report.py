"""Stage report: reports/index.html, a static page with every figure, the metrics tables, the parameters and the
git revision (open it in a browser; its images are the pipeline's figures beside it)."""

from difflab.config.params import stage_params
from difflab.reporting.report import render


def main() -> None:
    _, args = stage_params(__doc__, ())
    print(f"wrote {render(args.params)}")


if __name__ == "__main__":
    main()
