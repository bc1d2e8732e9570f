"""The explorer: a local Gradio app to play with any run's models (make explore)."""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before any module of the page imports gradio: it reads this then
