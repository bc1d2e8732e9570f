"""Stage embed_prompts: the condition of every prompt named in params.yaml parta.<model>, computed once.

DeepFloyd IF: T5 v1.1 XXL embeddings (the only stage that loads the text encoder); the project's own model: one-hot
class vectors, a prompt naming a class of data.dataset by its label ("6") or its name ("Shirt").
"""

import sys

from difflab.config.params import stage_params
from difflab.config.runtime import resolve_device, use_threads
from difflab.data.mnist import CLASSES
from difflab.errors import exit_on_input_error
from difflab.parta.conditions import prompts_in, save_conditions
from difflab.parta.deepfloyd import IFUnavailable
from difflab.parta.load import check_model_name, encode_prompts

OUT = "data/prompt_conditions.safetensors"


def main() -> None:
    params, _ = stage_params(__doc__, ("device", "threads", "data.dataset", "parta.model", "parta.${parta.model}"))
    use_threads(params.threads)
    name = params.parta.model
    try:
        with exit_on_input_error("embed_prompts"):  # a prompt the model cannot take, a bad value: one line, exit 2
            check_model_name(name)
            section = getattr(params.parta, name)
            prompts = prompts_in(section)
            conds = encode_prompts(name, section.common, prompts, resolve_device(params.device),
                                   CLASSES[params.data.dataset])
    except IFUnavailable as e:  # the weights cannot be downloaded: its message says why and how to get access
        sys.exit(f"embed_prompts: {e}")
    save_conditions(OUT, prompts, conds, name)
    print(f"{len(prompts)} prompt conditions for {name} -> {OUT}: {prompts}")


if __name__ == "__main__":
    with exit_on_input_error("embed_prompts"):  # a damaged input file or a bad value: one line, exit 2
        main()
