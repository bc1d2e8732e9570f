"""One training loop for the three MNIST models: Adam, optional per-epoch exponential LR decay, Accelerate for
the device (and for multi-GPU under `accelerate launch`), DVCLive for the per-step loss, and a checkpoint at
the end of every epoch from which an interrupted run resumes.

The whole dataset lives on the training device as one tensor and batches are drawn by index from a seeded
permutation, so a resumed run replays exactly the batches and noise an uninterrupted run would have drawn.
"""

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from dvclive import Live
from torch import nn

from difflab.config import runtime
from difflab.config.schema import Params
from difflab.models.checkpoints import UnreadableState, load_state, save_state
from difflab.models.ema import Ema
from difflab.progress import progress
from difflab.training.precise_bn import precise_bn, seed_of

# loss_fn(model, images, labels, generator) -> scalar loss for one batch
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


@dataclass
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    seed: int
    device: str  # auto | cpu | cuda: params.yaml's top-level knobs (schema.Params)
    precision: str  # auto | fp32 | bf16 | fp16 (runtime.py)
    channels_last: str  # auto | on | off
    compile: str  # auto | on | off
    log_every: int  # losses reach the host (DVCLive, progress bar) every N steps and at each epoch's end
    # What a section without the knob does (the judge keeps no EMA, the denoisers' lr is constant):
    lr_final_factor: float = 1.0  # ExponentialLR gamma = lr_final_factor ** (1 / epochs); 1.0 keeps lr constant
    snapshot_epochs: tuple[int, ...] = ()  # also keep the weights after these epochs
    ema_decay: float = 0.0  # > 0: the saved weights (final and snapshot) are an EMA of the trained ones (ema.py)
    precise_bn_batches: int = 0  # > 0: the saved weights' BatchNorm statistics averaged over N batches (precise_bn.py)


def config_from_params(params: Params, name: str) -> TrainConfig:
    """The TrainConfig of section `name`: its epochs, batch size, lr (and decay, snapshot_epoch or snapshot_epochs,
    EMA, precise BatchNorm statistics) plus the top-level seed, device, precision, channels_last, compile and log_every.

    A knob the section's schema has is read as is, so a stage that does not declare it fails here instead of
    training without it; one the schema lacks (the judge keeps no EMA, the denoisers' lr is constant) keeps
    TrainConfig's "off"."""
    section = getattr(params, name)
    knobs = type(section).model_fields
    optional = {key: getattr(section, key) for key in ("lr_final_factor", "ema_decay", "precise_bn_batches")
                if key in knobs}
    snapshots = (section.snapshot_epochs if "snapshot_epochs" in knobs
                 else [section.snapshot_epoch] if "snapshot_epoch" in knobs else [])
    return TrainConfig(epochs=section.epochs, batch_size=section.batch_size, lr=section.lr, seed=params.seed,
                       device=params.device, precision=params.precision, channels_last=params.channels_last,
                       compile=params.compile, log_every=params.log_every, snapshot_epochs=tuple(snapshots),
                       **optional)


@dataclass
class TrainResult:
    state_dict: dict
    snapshots: dict[int, dict] = field(default_factory=dict)  # epoch -> weights after it (cfg.snapshot_epochs)
    losses: list[float] = field(default_factory=list)  # one per optimiser step
    epoch_losses: list[float] = field(default_factory=list)  # mean loss of each epoch
    seconds: float = 0.0  # wall time of the epochs (and of the epochs before a resume): DVCLive's train/seconds
    main: bool = True  # False on the other processes of an `accelerate launch` run: they must write no outputs


def fingerprint(*parts) -> str:
    """A checkpoint is resumed only by the run that made it: same config, model, data and code."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def code_digest() -> str:
    """sha256 of this package's sources and the running script: changed code must not resume old training."""
    package = Path(__file__).parents[1]
    files = sorted(package.rglob("*.py"))
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    digest = hashlib.sha256()
    for f in files + ([Path(main)] if main else []):
        name = f.relative_to(package).as_posix() if f.is_relative_to(package) else f.name
        digest.update(name.encode() + Path(f).read_bytes())
    return digest.hexdigest()


def tensor_digest(*tensors: torch.Tensor) -> str:
    """sha256 of the tensors' bytes, in order: whether data or weights are the very same."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fit(model: nn.Module, loss_fn: LossFn, images: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig,
        checkpoint_path: Path, log_dir: Path, loss_settings: str = "",
        on_epoch_end: Callable[[int], None] | None = None) -> TrainResult:
    """Train `model` in place and return its final (and snapshot) weights plus the loss history.

    loss_settings names what the loss depends on beyond cfg (sigma, schedule, p_uncond): part of the fingerprint.
    on_epoch_end(epoch) runs after each epoch's checkpoint is written (tests use it to simulate a kill).

    The loop never waits on the host between steps: each step's loss stays on the device, and the losses reach the
    host (the DVCLive log, the progress bar) every cfg.log_every steps and at the end of each epoch.

    With DIFFLAB_RANK_LOG=<dir> in the environment, every process also writes <dir>/rank<r>.json at the end: the
    dataset indices it trained on in each epoch and the sha256 of its final weights (tests of `accelerate launch`).
    """
    run = _set_up(model, images, labels, cfg, loss_settings)
    result, start_epoch = _resume(run, checkpoint_path)
    data = _distribute(run, images, labels)
    live = Live(str(log_dir), save_dvc_exp=False, dvcyaml=None) if run.main else None
    rank_log = os.environ.get("DIFFLAB_RANK_LOG")
    trained_on = {} if rank_log else None  # epoch -> the index batches of this process
    if live is not None:
        _replay(live, result, data.steps_per_epoch)
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        _train_epoch(run, loss_fn, data, epoch, result, live, trained_on)
        _end_epoch(run, loss_fn, data, epoch, epoch_start, result, live, checkpoint_path)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    return _finish(run, loss_fn, data, result, live, rank_log, trained_on)


@dataclass
class _Run:
    """What one call of fit trains with: built by _set_up, restored by _resume, put on the device(s) by _distribute.

    model is the module the optimizer steps (wrapped for data parallelism once distributed), net the model itself
    and compiled what full batches run through (torch.compile of model, or model)."""
    cfg: TrainConfig
    rt: runtime.Runtime
    accelerator: Accelerator
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ExponentialLR
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    ema: Ema | None
    fingerprint: str
    net: nn.Module | None = None
    compiled: Callable | None = None

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def device(self) -> torch.device:
        return self.accelerator.device


@dataclass
class _Shard:
    """The dataset on the training device and how this process (rank of world) takes its share of every epoch."""
    images: torch.Tensor
    labels: torch.Tensor
    rank: int
    world: int
    batch_size: int

    @property
    def pad(self) -> int:
        """How many digits repeat at the end of each epoch's permutation to make all processes' slices as long."""
        return -len(self.images) % self.world

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch on every process; the last one may be partial."""
        return -(-len(self.images) // (self.batch_size * self.world))

    def permutation(self, generator: torch.Generator) -> torch.Tensor:
        """This process's slice of a fresh permutation of the dataset.

        Every process draws the same permutation and takes its own slice of it. Where the processes do not divide
        the digits evenly, the permutation's first few repeat at its end, so that every slice is as long (as in
        torch's DistributedSampler): no process ever meets an empty last batch, and all of them draw as much noise
        from their generators, which stay in step and give the same permutation next epoch."""
        perm = torch.randperm(len(self.images), generator=generator, device=self.images.device)
        return torch.cat([perm, perm[:self.pad]])[self.rank::self.world] if self.pad else perm[self.rank::self.world]


def _set_up(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig,
            loss_settings: str) -> _Run:
    """The accelerator, the model in its runtime's precision and memory format, Adam, the per-epoch LR decay, the
    fp16 grad scaler, the seeded generator of every batch and noise draw, the EMA, and the fingerprint that says
    which checkpoint this run may resume."""
    rt = runtime.resolve(cfg.device, cfg.precision, cfg.channels_last, cfg.compile)
    accelerator = Accelerator(cpu=rt.device.type == "cpu")
    device = accelerator.device
    model = rt.prepare(model)
    # Fused Adam on CUDA (one kernel for all parameters); on the CPU the classic loop, whose fp32 numbers are fixed.
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, **({"fused": True} if device.type == "cuda" else {}))
    # Stepped once per epoch by hand, so it is not handed to accelerate (which would step it per batch).
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_final_factor ** (1 / cfg.epochs))
    scaler = torch.amp.GradScaler(device.type, enabled=rt.precision == "fp16")
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    ema = Ema(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    fp = fingerprint({**asdict(cfg), "precision": rt.precision, "log_every": None}, str(model), loss_settings,
                     tensor_digest(images, labels), code_digest(), accelerator.num_processes)
    return _Run(cfg, rt, accelerator, model, optimizer, scheduler, scaler, generator, ema, fp, net=model,
                compiled=model)


def _resume(run: _Run, checkpoint_path: Path) -> tuple[TrainResult, int]:
    """The result so far and the last finished epoch: restored from checkpoint_path when this very run (same
    fingerprint) wrote it, so the run continues where it stopped; otherwise an empty result and epoch 0."""
    result = TrainResult(state_dict={}, main=run.main)
    try:
        state = load_state(checkpoint_path)
    except UnreadableState as e:  # damaged, or not ours: nothing of it is used (and nothing in it ever ran)
        if run.main:
            print(f"{e}; starting from scratch (it is resume state, not an output)")
        return result, 0
    if state is None:
        return result, 0
    if state["fingerprint"] != run.fingerprint:
        if run.main:
            print(f"{checkpoint_path} belongs to another configuration; starting from scratch")
        return result, 0
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.scaler.load_state_dict(state["scaler"])
    if run.ema is not None:
        run.ema.load_state_dict(state["ema"])
    run.generator.set_state(state["generator"].to("cpu"))
    result.losses, result.epoch_losses = state["losses"], state["epoch_losses"]
    result.seconds = state.get("seconds", 0.0)
    result.snapshots = state["snapshots"]
    if run.main:
        print(f"resuming from {checkpoint_path} after epoch {state['epoch']}/{run.cfg.epochs}")
    return result, state["epoch"]


def _distribute(run: _Run, images: torch.Tensor, labels: torch.Tensor) -> _Shard:
    """Hand the model and optimizer to accelerate (data parallelism under `accelerate launch`), compile the model
    if the runtime says so, and move the dataset to the device: after the resume, which loads unwrapped weights."""
    run.model, run.optimizer = run.accelerator.prepare(run.model, run.optimizer)
    run.net = run.accelerator.unwrap_model(run.model)
    # Full batches go through the compiled model (CUDA graphs on CUDA: static shapes); the last, partial batch of
    # an epoch runs the same weights eagerly, so it never triggers a recompile.
    run.compiled = (torch.compile(run.model, mode="reduce-overhead" if run.device.type == "cuda" else None)
                    if run.rt.compile else run.model)
    shard = _Shard(images.to(run.device), labels.to(run.device), run.accelerator.process_index,
                   run.accelerator.num_processes, run.cfg.batch_size)
    if run.main:
        print(f"training on {run.rt.summary(getattr(run.net, 'hidden', 0))}; {shard.world} process(es)")
    return shard


def _train_epoch(run: _Run, loss_fn: LossFn, data: _Shard, epoch: int, result: TrainResult, live: Live | None,
                 trained_on: dict[int, list[torch.Tensor]] | None) -> None:
    """One pass over this process's slice of a fresh permutation, one optimiser step per batch. The step losses stay
    on the device and reach result.losses, DVCLive and the progress bar every cfg.log_every steps and at the end,
    so the loop never waits on the host in between. trained_on, if given, collects the index batches."""
    cfg = run.cfg
    run.model.train()
    perm = data.permutation(run.generator)
    step_losses = torch.zeros(data.steps_per_epoch, device=run.device)
    bar = progress(range(data.steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", disable=not run.main)
    logged = 0

    def flush(upto: int) -> None:
        """Bring the losses of steps [logged, upto) to the host: one transfer (and one all-reduce) for all."""
        nonlocal logged
        if upto == logged:
            return
        values = run.accelerator.reduce(step_losses[logged:upto], reduction="mean").tolist()
        result.losses.extend(values)
        if live is not None:
            _log_losses(live, values)
        bar.set_postfix(loss=f"{values[-1]:.4f}", lr=f"{run.scheduler.get_last_lr()[0]:.2e}", refresh=False)
        logged = upto

    for step in bar:
        idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
        if trained_on is not None:
            trained_on.setdefault(epoch, []).append(idx)
        step_losses[step] = _step(run, loss_fn, data, idx)
        if (step + 1) % cfg.log_every == 0:
            flush(step + 1)
    flush(data.steps_per_epoch)  # waits for the device: the epoch's time _end_epoch takes is its real cost


def _step(run: _Run, loss_fn: LossFn, data: _Shard, idx: torch.Tensor) -> torch.Tensor:
    """One optimiser step on the digits idx (and the EMA's update after it); returns the loss, still on the device.
    A full batch runs through the compiled model, a partial one through the eager model (no recompile)."""
    with run.rt.autocast():
        model = run.compiled if len(idx) == run.cfg.batch_size else run.model
        loss = loss_fn(model, data.images[idx], data.labels[idx], run.generator)
    run.optimizer.zero_grad(set_to_none=True)
    run.accelerator.backward(run.scaler.scale(loss))
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if run.ema is not None:
        run.ema.update(run.net)
    return loss.detach()


def _end_epoch(run: _Run, loss_fn: LossFn, data: _Shard, epoch: int, epoch_start: float, result: TrainResult,
               live: Live | None, checkpoint_path: Path) -> None:
    """The bookkeeping after an epoch: the LR decay, the epoch's mean loss and time (logged), the processes'
    buffers brought in line, the snapshot if cfg asks for this epoch, and the checkpoint an interrupted run resumes
    from, which every process waits for."""
    run.scheduler.step()
    result.epoch_losses.append(sum(result.losses[-data.steps_per_epoch:]) / data.steps_per_epoch)
    result.seconds += time.perf_counter() - epoch_start
    if live is not None:
        _log_epoch(live, result, epoch, run.cfg.epochs)
    if data.world > 1:
        _sync_buffers(run.net)
    if epoch in run.cfg.snapshot_epochs:
        result.snapshots[epoch] = _kept(run, loss_fn, data, epoch)
    if run.main:
        save_state(checkpoint_path, _checkpoint(run, epoch, result))
    run.accelerator.wait_for_everyone()


def _log_epoch(live: Live, result: TrainResult, epoch: int, epochs: int) -> None:
    """The epoch's mean loss, the training time so far and the epoch number: in DVCLive's summary and on stdout."""
    live.log_metric("train/epoch_loss", result.epoch_losses[-1], plot=False)
    live.log_metric("train/seconds", round(result.seconds, 2), plot=False)
    live.log_metric("epoch", epoch, plot=False)
    live.make_summary()
    print(f"epoch {epoch}/{epochs}: mean loss {result.epoch_losses[-1]:.5f}")


def _sync_buffers(net: nn.Module) -> None:
    """Give every process rank 0's buffers. DDP keeps the parameters in step and starts every forward from rank 0's
    BatchNorm statistics, which each rank then updates from its own batch: all end the epoch with rank 0's."""
    for buffer in net.buffers():
        torch.distributed.broadcast(buffer.data, src=0)


def _weights(run: _Run) -> dict:
    """The weights a run saves (final and snapshots): the EMA's when it keeps one, else the model's own."""
    return run.ema.state if run.ema is not None else run.net.state_dict()


def _kept(run: _Run, loss_fn: LossFn, data: _Shard, epoch: int) -> dict:
    """The weights saved after `epoch` (on the CPU): _weights, with cfg.precise_bn_batches > 0 their BatchNorm
    statistics averaged over that many training batches (precise_bn.py; a generator of their own, so training and a
    resumed run's result are unchanged)."""
    weights, cfg = _weights(run), run.cfg
    if cfg.precise_bn_batches:
        weights = precise_bn(run.net, weights, loss_fn, data.images, data.labels, cfg.precise_bn_batches,
                             cfg.batch_size, seed_of(cfg.seed, epoch), run.rt)
    return {k: v.detach().cpu().clone() for k, v in weights.items()}


def _checkpoint(run: _Run, epoch: int, result: TrainResult) -> dict:
    """Everything _resume needs to continue after `epoch` as if the run had never stopped."""
    return {
        "fingerprint": run.fingerprint, "epoch": epoch, "model": run.net.state_dict(),
        "optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(), "ema": run.ema.state_dict() if run.ema is not None else None,
        "generator": run.generator.get_state(), "losses": result.losses,
        "epoch_losses": result.epoch_losses, "seconds": result.seconds,
        "snapshots": result.snapshots}


def _finish(run: _Run, loss_fn: LossFn, data: _Shard, result: TrainResult, live: Live | None, rank_log: str | None,
            trained_on: dict[int, list[torch.Tensor]] | None) -> TrainResult:
    """Close the DVCLive log, put the final weights (on the CPU) in result and, with DIFFLAB_RANK_LOG, write what
    this process trained on."""
    if live is not None:
        live.end()
    result.state_dict = _kept(run, loss_fn, data, run.cfg.epochs)
    if rank_log:
        _write_rank_log(Path(rank_log) / f"rank{data.rank}.json", data.rank, data.world, result.state_dict,
                        trained_on)
    return result


def _write_rank_log(path: Path, rank: int, world: int, state_dict: dict, trained_on: dict) -> None:
    """What one process did: the sha256 of each tensor of its final state dict (weights and buffers) and, per
    epoch, the dataset indices it fed the loss, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "rank": rank, "world_size": world, "sha256": {k: tensor_digest(v) for k, v in state_dict.items()},
        "indices": {epoch: torch.cat(batches).tolist() for epoch, batches in trained_on.items()}}))


def _log_losses(live: Live, values: list[float]) -> None:
    """One train/loss row per step, as live.next_step() after each would write, but with a single next_step()
    at the end: next_step() re-reads every row logged so far (DVCLive gathers them for Studio, token or not), so
    calling it per step made training time grow with the square of the step count (20 paper epochs of 469 steps
    ran 6 s, then 13 s, per epoch on an H200)."""
    for value in values[:-1]:
        live.log_metric("train/loss", value)
        live.step = live.step + 1
    live.log_metric("train/loss", values[-1])
    live.next_step()


def _replay(live: Live, result: TrainResult, steps_per_epoch: int) -> None:
    """Rewrite the log of the epochs a resumed run restored from its checkpoint, so that its log equals an unbroken
    run's."""
    for epoch in range(1, len(result.epoch_losses) + 1):
        _log_losses(live, result.losses[(epoch - 1) * steps_per_epoch:epoch * steps_per_epoch])
        live.log_metric("train/epoch_loss", result.epoch_losses[epoch - 1], plot=False)
        live.log_metric("epoch", epoch, plot=False)
    if result.losses:
        live.log_metric("train/seconds", round(result.seconds, 2), plot=False)
        live.make_summary()
