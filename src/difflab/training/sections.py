"""What every training stage does around the loop (training.loop.fit) for a params.yaml section: the section's
training digits, the seed before the UNet draws its initial weights, and after the fit the loss figure and the
checkpoint discarded."""

from difflab.config import layout
from difflab.config.runtime import seed_everything
from difflab.config.schema import Params, Training
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import discard_state
from difflab.models.unet import UNet
from difflab.training.loop import LossFn, TrainResult, config_from_params, fit
from difflab.training.loss_curve import loss_curve


def fit_section(params: Params, section: str, conditioning: str, loss: LossFn, loss_settings: str) -> TrainResult:
    """Fit a section's UNet on its training digits, seeded after the data is loaded and before the UNet draws its
    initial weights. loss_settings names what the loss depends on (part of the checkpoint's fingerprint)."""
    p = getattr(params, section)
    images, labels = load_mnist(params.data.dir, "train", p.train_limit)
    seed_everything(params.seed)
    model = UNet(p.hidden, conditioning)
    paths = layout.model_paths(section)
    return fit(model, loss, images, labels, config_from_params(params, section), paths.checkpoint, paths.log_dir,
               loss_settings=loss_settings)


def finish(section: str, p: Training, result: TrainResult, title: str) -> None:
    """The loss figure (a tick per epoch), then the checkpoint discarded: the weights are saved, nothing is left to
    resume."""
    paths = layout.model_paths(section)
    loss_curve(result.losses, len(result.losses) // p.epochs, paths.loss_figure, title)
    discard_state(paths.checkpoint)
