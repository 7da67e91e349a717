"""write_error: one message per OSError class, shared by fileops and filelock."""

from __future__ import annotations

import errno

import pytest

from velollm.errors import WriteError, write_error


@pytest.mark.parametrize(("code", "message", "hint"), [
    (errno.EACCES, "permission denied: cannot remove /etc/x", "run with sudo"),
    (errno.EPERM, "permission denied: cannot remove /etc/x", "run with sudo"),
    (errno.ENOSPC, "no space left on the device holding /etc/x", "free some space"),
    (errno.EDQUOT, "no space left on the device holding /etc/x", "free some space"),
    (errno.EROFS, "/etc/x is on a read-only file system", "choose another path"),
    (errno.EIO, "cannot remove /etc/x: Input/output error", "the original is unchanged")])
def test_write_error_names_the_cause_and_keeps_the_path(code: int, message: str,
                                                        hint: str) -> None:
    err = write_error(OSError(code, "Input/output error"), "/etc/x", "remove")
    assert isinstance(err, WriteError)
    assert (err.message, err.path) == (message, "/etc/x")
    assert err.hint is not None and err.hint.startswith(hint)
    assert err.hint.endswith("the original is unchanged")
