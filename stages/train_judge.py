"""Stage train_judge: train the judge, a small classifier of the dataset (data.dataset) used only to measure results
(never trained on generated images), and report its test accuracy."""

from difflab.config import layout
from difflab.config.metric_files import JudgeTest
from difflab.config.params import stage_params
from difflab.config.runtime import for_stage, resolve_device, seed_everything
from difflab.data.mnist import check_dataset, load_mnist
from difflab.errors import exit_on_input_error
from difflab.models.checkpoints import discard_state, save_model
from difflab.models.judge import Judge, judge_loss, judge_outputs
from difflab.training.loop import config_from_params, fit


def main() -> None:
    params, _ = stage_params(__doc__)
    for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    p = params.judge
    images, labels = load_mnist(params.data.dir, "train", p.train_limit)
    test_x, test_y = load_mnist(params.data.dir, "test")
    seed_everything(params.seed)
    paths = layout.model_paths("judge")
    cfg = config_from_params(params, "judge")
    result = fit(Judge.for_images(images), judge_loss, images, labels, cfg, paths.checkpoint, paths.log_dir,
                 loss_settings="judge")
    if not result.main:  # under `accelerate launch` only the main process writes the outputs
        return
    save_model(paths.final, result.state_dict, {"kind": "judge", "epoch": p.epochs})
    device = resolve_device(params.device)
    judge = Judge()
    judge.load_state_dict(result.state_dict)
    predicted, _ = judge_outputs(judge.to(device), test_x.to(device))
    accuracy = (predicted == test_y).float().mean().item()
    JudgeTest(test_accuracy=accuracy, n=len(test_y)).write(paths.reports / "metrics.json")
    print(f"judge test accuracy: {accuracy:.4f}")
    discard_state(paths.checkpoint)  # the outputs are saved: nothing left to resume


if __name__ == "__main__":
    with exit_on_input_error("train_judge"):  # a damaged input file or a bad value: one line, exit 2
        main()
