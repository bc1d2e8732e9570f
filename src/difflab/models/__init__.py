"""The networks and their files: the UNet, the judge classifier, the EMA of weights, checkpoints."""
