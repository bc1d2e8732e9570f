"""The diffusion maths: noise schedules, timesteps, DDPM and DDIM steps, flow matching, guidance, noise, intervals."""
