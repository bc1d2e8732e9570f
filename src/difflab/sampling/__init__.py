"""Sampling part B's MNIST models: digits from a DDPM or a flow-matching model, guided or not."""
