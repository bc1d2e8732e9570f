"""The diffusion maths: noise schedules and timesteps, the DDPM and DDIM steps, flow matching, guidance, noise; and
the 95 % intervals its measurements are reported with."""
