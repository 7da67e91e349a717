"""The confirmation apply and destroy ask for, with Terraform's semantics.

Only the exact answer "yes" goes ahead; anything else cancels and changes nothing. With --json
stdout is one JSON document, so there is no prompt on it; without a terminal on stdin there is no one
to ask. Both refuse and point at --auto-approve rather than hang or guess.
"""

from __future__ import annotations

import sys

from velollm.errors import VelollmError
from velollm.output import OUT


def confirm(command: str, question: str, *, review: str, unchanged: str) -> None:
    """Return when the user typed yes; raise VelollmError otherwise.

    `review` is the command that shows what would change, `unchanged` what the user is told was
    left alone when they say no (e.g. "nothing was written").
    """
    hint = f"review `{review}`, then re-run with --auto-approve"
    if OUT.json_mode:  # as terraform apply -json: stdout is one document, no prompt on it
        raise VelollmError(f"{command} --json cannot ask for confirmation", hint=hint)
    if not sys.stdin.isatty():
        raise VelollmError(f"{command} needs confirmation, and there is no terminal to ask on",
                           hint=hint)
    OUT.line(f"\n{question} Only 'yes' will be accepted.")
    try:
        answer = input("  Enter a value: ")
    except EOFError:  # ^D: the user closed the input, which is no "yes" either
        OUT.line()  # the terminal echoed no newline after the prompt
        answer = ""
    if answer.strip() != "yes":
        raise VelollmError(f"{command.capitalize()} cancelled.", hint=unchanged)
