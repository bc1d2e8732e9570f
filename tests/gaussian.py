"""Samplers against a distribution with a known answer: per-pixel data N(mu, s^2).

The exact noise estimate is linear in x_t, so every DDPM or DDIM step is x' = A x + B + std z, and the moments of
the output follow in closed form from the step formulas (Ho et al. 2020, Song et al. 2021), written out here
independently of the code under test."""

import math
from collections.abc import Sequence


def eps_oracle(alphas_cumprod, mu: float, s: float):
    """The exact E[eps | x_t] when the data are N(mu, s^2): x_t ~ N(sqrt(ab) mu, ab s^2 + 1 - ab)."""
    def eps_fn(x, t):
        ab = alphas_cumprod[t].item()
        return math.sqrt(1 - ab) * (x - math.sqrt(ab) * mu) / (ab * s * s + 1 - ab)
    return eps_fn


def exact_moments(alphas_cumprod, timesteps: Sequence[int], mu: float, s: float, variance: str = "fixed_small",
                  eta: float | None = None, mean: float = 0.0, var: float = 1.0) -> tuple[float, float]:
    """Mean and standard deviation of the output of sampling from x_T ~ N(mean, var) down `timesteps` with the exact
    noise estimate: by the DDPM posterior step (eta None; noise sqrt(beta) where variance is fixed_large or the step
    spans one timestep, else the posterior's sqrt(beta_tilde)) or by DDIM's step with eta; the last step returns
    x0_hat."""
    ab = [float(a) for a in alphas_cumprod]
    for i, t in enumerate(timesteps):
        a = ab[t]
        k = math.sqrt(1 - a) / (a * s * s + 1 - a)  # eps_hat = k (x - sqrt(a) mu)
        a0, b0 = (1 - math.sqrt(1 - a) * k) / math.sqrt(a), math.sqrt(1 - a) * k * mu  # x0_hat = a0 x + b0
        if i + 1 == len(timesteps):
            return a0 * mean + b0, a0 * math.sqrt(var)
        t_prev = timesteps[i + 1]
        a_prev = ab[t_prev]
        beta = 1 - a / a_prev
        beta_tilde = (1 - a_prev) / (1 - a) * beta
        if eta is None:  # posterior mean c1 x0_hat + c2 x_t
            c1, c2 = math.sqrt(a_prev) * beta / (1 - a), math.sqrt(1 - beta) * (1 - a_prev) / (1 - a)
            A, B = c1 * a0 + c2, c1 * b0
            noise = beta if variance == "fixed_large" or t - t_prev == 1 else beta_tilde
        else:  # sqrt(a') x0_hat + sqrt(1 - a' - sigma^2) eps_hat
            noise = eta * eta * beta_tilde
            c = math.sqrt(1 - a_prev - noise)
            A, B = math.sqrt(a_prev) * a0 + c * k, math.sqrt(a_prev) * b0 - c * k * math.sqrt(a) * mu
        mean, var = A * mean + B, A * A * var + noise
    raise ValueError("no timesteps")
