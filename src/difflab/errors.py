"""The one base class of the project's input errors, in a module that imports nothing of the project, so every
layer can use it; and the one way a stage reports them.

An InputError says that something the user gave (a params value, a prompt, an image, a view, a checkpoint of the
wrong kind) cannot be used; its message names the value and what is allowed. The stages print it on one line and
exit with status 2, as for a bad command line. Any other exception, a plain ValueError included, is a bug of the
code or of a library and keeps its traceback.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class InputError(ValueError):
    """Input that cannot be used: the message names the bad value and what is allowed."""


class ParamError(InputError):
    """A params.yaml value that is not allowed (or a key that is unknown)."""


class PromptError(InputError):
    """A prompt the model cannot be conditioned on."""


@contextmanager
def exit_on_input_error(prefix: str) -> Iterator[None]:
    """Around a stage's work: an InputError ends the stage with one line, "<prefix>: <message>", on stderr and exit
    status 2, as a bad command-line argument does; every other exception propagates with its traceback."""
    try:
        yield
    except InputError as e:
        print(f"{prefix}: {e}", file=sys.stderr)
        sys.exit(2)
