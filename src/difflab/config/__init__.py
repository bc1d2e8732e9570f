"""Configuration: params.yaml's rules, the device and precision a stage runs with, the profiles, the output paths, the metric files' shapes."""
