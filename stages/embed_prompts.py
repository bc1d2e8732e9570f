"""Stage embed_prompts: the condition of every prompt the part A experiments of params.yaml parta.<model> look up,
computed once and written one file per experiment (data/prompts/<experiment>.safetensors), so that a changed prompt
reruns only the experiments that use it.

DeepFloyd IF: T5 v1.1 XXL embeddings (the only stage that loads the text encoder, as parta.deepfloyd_if.common
names it); the project's own model: one-hot class vectors, a prompt naming a class of data.dataset by its label ("6")
or its name ("Shirt").
"""

import shutil
import sys

from difflab.config.experiments import PART_A
from difflab.config.params import stage_params
from difflab.config.runtime import resolve_device, use_threads
from difflab.data.mnist import CLASSES
from difflab.errors import exit_on_input_error
from difflab.parta.conditions import CONDITIONS, conditions_file, prompts_in, save_conditions
from difflab.parta.deepfloyd import IFUnavailable
from difflab.parta.load import encode_prompts


def main() -> None:
    params, _ = stage_params(__doc__)
    use_threads(params.threads)
    name = params.parta.model
    try:
        with exit_on_input_error("embed_prompts"):  # a prompt the model cannot take, a bad value: one line, exit 2
            section = getattr(params.parta, name)
            prompts = prompts_in(section)  # every experiment's, encoded in one batch (IF: T5 loaded once)
            conds = encode_prompts(name, section.common, prompts, resolve_device(params.device),
                                   CLASSES[params.data.dataset])
    except IFUnavailable as e:  # the weights cannot be downloaded: its message says why and how to get access
        sys.exit(f"embed_prompts: {e}")
    shutil.rmtree(CONDITIONS, ignore_errors=True)  # no file of an experiment that is gone
    for e in PART_A:
        own = prompts_in(section, [e])
        save_conditions(conditions_file(e.name), own, conds[[prompts.index(p) for p in own]], name)
    print(f"{len(prompts)} prompt conditions for {name}, one file per experiment -> {CONDITIONS}/: {prompts}")


if __name__ == "__main__":
    with exit_on_input_error("embed_prompts"):  # a damaged input file or a bad value: one line, exit 2
        main()
