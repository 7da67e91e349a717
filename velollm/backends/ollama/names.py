"""Names of an Ollama installation that the targets, the backend and the probes share; a module
of its own so that importing them does not load the install probe (sockets, subprocesses)."""

from __future__ import annotations

SYSTEMD_UNIT = "ollama.service"  # the unit Ollama's install.sh creates
