"""Part A: the DeepFloyd IF experiments, written once against a small model interface (model.py) and run on
DeepFloyd IF (deepfloyd.py) or on the project's class-conditioned MNIST UNet."""
