"""The one base class of the project's input errors, in a module that imports nothing, so every layer can use it.

An InputError says that something the user gave (a params value, a prompt, an image, a view, a checkpoint of the
wrong kind) cannot be used; its message names the value and what is allowed. The stages print it on one line and
exit with status 2, as for a bad command line. Any other exception, a plain ValueError included, is a bug of the
code or of a library and keeps its traceback.
"""


class InputError(ValueError):
    """Input that cannot be used: the message names the bad value and what is allowed."""


class PromptError(InputError):
    """A prompt the model cannot be conditioned on."""
