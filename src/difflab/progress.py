"""Progress bars that suit both a terminal and a log file (DVC runs, CI): a live bar on a TTY, a line every 30 s
otherwise."""

import sys

from tqdm.auto import tqdm


def progress(iterable, desc: str | None = None, disable: bool = False, **kwargs):
    return tqdm(iterable, desc=desc, disable=disable, leave=False,
                mininterval=0.2 if sys.stderr.isatty() else 30, **kwargs)
