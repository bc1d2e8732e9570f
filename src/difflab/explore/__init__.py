"""The explorer: a local Gradio app to play with any run's models (make explore)."""
