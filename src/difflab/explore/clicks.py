"""One click's work on the page: the cancel flag it holds while it runs, its bad input or its cancellation as a
message on the page, and the Cancel button that sets the flag."""

import contextlib

import gradio as gr

from difflab.errors import InputError
from difflab.explore.steps import Cancelled, Cancels


@contextlib.contextmanager
def work(cancels: Cancels, request: gr.Request | None, tab: str):
    """One click's work on `tab`: the cancel flag it holds while it runs (its page's and tab's: Cancel sets it), and
    its bad input or its cancellation turned into a message on the page, which keeps what it showed before."""
    with cancels.running((getattr(request, "session_hash", None) or "", tab)) as flag:
        try:
            yield flag
        except InputError as err:
            raise gr.Error(str(err)) from None
        except Cancelled as err:
            raise gr.Error(f"{tab}: {err} (the page keeps what it showed before)", title="Cancelled") from None


def cancel_button(cancels: Cancels, tab: str, elem_id: str) -> gr.Button:
    """A Cancel button that stops the work of its page's `tab` after the step under way (Gradio's own `cancels=`
    would leave the sampling loop running); it runs at once, beside that work, not after it in the queue."""
    button = gr.Button("Cancel", variant="stop", scale=0, min_width=120, elem_id=elem_id)

    def on_cancel(request: gr.Request):
        if not cancels.cancel((request.session_hash or "", tab)):
            gr.Info(f"{tab}: nothing running to cancel.")

    button.click(on_cancel, None, None, concurrency_limit=None, show_progress="hidden", api_visibility="private")
    return button
