"""An exponential moving average of a model's weights (and BatchNorm statistics), with the usual warm-up
decay_t = min(decay, (1 + t) / (10 + t)) so that the random initial weights are forgotten in short runs.

A lever outside the spec (off in params.yaml: ema_decay 0): samples from averaged weights are cleaner after few
optimiser steps, which is what the quick CPU profile has.
"""

import torch
from torch import nn


class Ema:
    def __init__(self, model: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"decay={decay}; allowed: a number in (0, 1)")
        self.decay, self.updates = decay, 0
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = model.state_dict()
        floats = [k for k, v in self.state.items() if v.is_floating_point()]
        torch._foreach_lerp_([self.state[k] for k in floats], [current[k].detach() for k in floats], 1 - decay)
        for k, v in self.state.items():
            if not v.is_floating_point():
                v.copy_(current[k])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "state": self.state}

    def load_state_dict(self, saved: dict) -> None:
        self.decay, self.updates = saved["decay"], saved["updates"]
        for k, v in saved["state"].items():
            self.state[k].copy_(v)
