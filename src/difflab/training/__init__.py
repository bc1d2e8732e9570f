"""Training: the loop (resumable, DVCLive-logged, accelerate-ready) and the single-step denoiser's losses."""
