"""`velollm dashboard`: a local web page of the server, the settings and the gains."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

from velollm.output import OUT

HELP = "a local web page: the server now, the settings' status, and the gains of each apply"
DEFAULT_PORT = 8089
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format
REMOTE_WARNING = ("the dashboard listens on {listen}, beyond this machine: it has no "
                  "authentication, so anyone who can reach the port can read your server's "
                  "address, models, settings and benchmark history; bind 127.0.0.1 (the "
                  "default) or put an authenticating proxy in front")


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "dashboard", parents=[common], help=HELP,
        description=HELP + ". Serves until ^C, on 127.0.0.1 unless told otherwise; the page "
                           "works offline (everything it needs is inside velollm).")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                   help=f"the port to serve on (default: {DEFAULT_PORT}; 0: a free one)")
    p.add_argument("--listen", default="127.0.0.1", metavar="ADDRESS",
                   help="the address to serve on (default: 127.0.0.1); any address that is not "
                        "loopback also needs --allow-remote")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --listen address other machines can reach (no authentication)")
    p.add_argument("--host", metavar="URL",
                   help="the server to watch (default: from OLLAMA_HOST, else "
                        "http://127.0.0.1:11434)")
    p.add_argument("-f", "--file", type=Path, metavar="FILE",
                   help="velollm.yaml to compare with (default: $VELOLLM_CONFIG, else "
                        "./velollm.yaml when there is one)")
    p.add_argument("--refresh", type=float, default=5.0, metavar="S",
                   help="seconds between the page's updates of the Now panel (default: 5)")


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until ^C (or until `stop` is set: the tests' handle)."""
    from velollm.errors import UsageError
    from velollm.io.webserver import is_loopback

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if args.refresh < 1:
        raise UsageError(f"--refresh must be at least 1 second, got {args.refresh:g}")
    if not is_loopback(args.listen):
        if not args.allow_remote:
            raise UsageError(f"--listen {args.listen} can be reached from other machines",
                             hint="add --allow-remote to serve there anyway (the dashboard has "
                                  "no authentication), or keep the default 127.0.0.1")
        OUT.warn(REMOTE_WARNING.format(listen=args.listen))
    served = start(args)
    try:
        OUT.line(f"velollm dashboard: {served.url}  (^C stops it)")
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        OUT.info("stopped")
    finally:
        served.stop()
    return 0


def start(args: argparse.Namespace) -> Any:
    """The dashboard serving in a background thread: a velollm.io.webserver.Served."""
    from velollm.app.dashboard import Dashboard
    from velollm.app.runlog import detected_hardware
    from velollm.io.webserver import json_body, serve
    from velollm.report.html import dashboard_page
    from velollm.report.metrics import exposition

    board = Dashboard(host=args.host, config=args.file, hardware=detected_hardware())
    board.now()  # a bad --host is a usage error now, not a broken panel later
    page = dashboard_page(refresh_s=args.refresh).encode("utf-8")
    routes = {"/": lambda: ("text/html; charset=utf-8", page),
              "/api/now": lambda: json_body(board.now()),
              "/api/configuration": lambda: json_body(board.configuration()),
              "/api/gains": lambda: json_body(board.gains()),
              "/metrics": lambda: (METRICS_TYPE, exposition(
                  board.now(), board.configuration(), board.gains()).encode("utf-8"))}
    return serve(routes, args.listen, args.port)
