"""Part A's engine: the model interface, the algorithms, views, images, prompt conditions, experiments, DeepFloyd IF."""
