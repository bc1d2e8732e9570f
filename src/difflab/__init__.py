"""difflab: diffusion models from the forward process to classifier-free guidance, as a DVC pipeline."""
