"""Entry point: the parser, the COMMANDS table and the one error handler. No domain logic here.

Command modules import only argparse-level things at module scope; heavy libraries (jsonschema,
jinja2, requests, deepdiff) are imported inside `run()`, so `velollm --version` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from velollm import __version__
from velollm.core.secrets import mask_secrets
from velollm.errors import SchemaValidationError, VelollmError
from velollm.io.xdg import state_dir
from velollm.output import OUT, configure


class _Commands(Mapping[str, ModuleType]):
    """Command name -> its module, imported on first use: `velollm --version` and a usage error
    import none of them, a command run imports the parser's modules only (their run() imports
    the heavy libraries)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)

    def __getitem__(self, name: str) -> ModuleType:
        if name not in self._names:
            raise KeyError(name)
        return importlib.import_module(f"velollm.cli.{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# Each command module (velollm/cli/<name>.py) has add_parser() and run(); heavy libraries are
# imported inside run(). Order is the order of `velollm --help`.
COMMANDS: Mapping[str, ModuleType] = _Commands((
    "detect", "plan", "apply", "destroy", "init", "validate", "profiles", "benchmark", "verify",
    "status", "report", "dashboard", "tune", "completion",
))

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CHANGES = 2  # plan/status --detailed-exitcode: changes present (a result, as terraform's)


def _global_options(suppress: bool) -> argparse.ArgumentParser:
    """Options valid both before and after the subcommand.

    The copy attached to subcommands uses SUPPRESS defaults so it never overwrites a value given
    before the subcommand (an argparse quirk with parents on both levels).
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", default=default(False),
                   help="print one JSON document on stdout instead of the text report")
    p.add_argument("--color", choices=("auto", "always", "never"), default=default("auto"),
                   help="colour the output (default: auto; NO_COLOR is honoured)")
    p.add_argument("-v", "--verbose", action="count", default=default(0),
                   help="more detail (repeatable)")
    p.add_argument("-q", "--quiet", action="count", default=default(0),
                   help="only results and errors")
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, the one command about to run (its module alone is imported:
    a command run does not pay for the other ten's modules and argument tables)."""
    parser = argparse.ArgumentParser(
        prog="velollm",
        description="Declarative configuration manager for local LLM servers: detect, plan, "
                    "apply, verify.",
        parents=[_global_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"velollm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = _global_options(suppress=True)
    for name in COMMANDS if only is None else (only,):
        COMMANDS[name].add_parser(sub, common)
    parser.set_defaults(root_parser=parser)  # `velollm completion` generates its scripts from it
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list in (["--version"], ["-V"]):
        # Fast path: no subcommand modules, no parser construction.
        print(f"velollm {__version__}")
        return EXIT_OK
    word = _command_word(args_list)
    # `completion` writes scripts for every command, so it needs the whole parser
    parser = build_parser(word if word and word in COMMANDS and word != "completion" else None)
    if word is None:  # as git: the overview on stdout (to page it), still not a command run
        parser.print_help()
        return EXIT_USAGE
    if word and word not in COMMANDS:  # argparse would print the usage and every choice
        import difflib  # only for a mistyped command

        close = difflib.get_close_matches(word, COMMANDS, n=1)
        OUT.error(f"unknown command {word!r}; " + (f"did you mean {close[0]!r}?" if close
                                                   else "`velollm --help` lists the commands"))
        return EXIT_USAGE
    try:
        args, unknown = parser.parse_known_args(args_list)
    except SystemExit as exc:  # argparse: --help (0) or usage error (2)
        return int(exc.code or 0)
    if unknown:
        return _unknown_arguments(parser, args.command, unknown[0])
    configure(color=args.color, verbosity=args.verbose - args.quiet, json_mode=args.json)
    with _error_handler(args.command) as result:
        result.code = COMMANDS[args.command].run(args)
        # returned, not raised: the run succeeded; a dry run (--check) writes nothing at all
        if result.code in (EXIT_OK, EXIT_CHANGES) and not getattr(args, "check", False):
            _keep_valid_documents()
    return result.code


def _unknown_arguments(parser: argparse.ArgumentParser, command: str, word: str) -> int:
    """argparse would print the top-level usage and blame `velollm`; like a mistyped command,
    one line that names the command and the option probably meant."""
    import difflib  # only for a mistyped option

    options = [option for action in parser._actions
               if isinstance(action, argparse._SubParsersAction)
               for option_action in action.choices[command]._actions
               for option in option_action.option_strings if option.startswith("--")]
    if not word.startswith("-"):
        OUT.error(f"unexpected argument {word!r} for `velollm {command}`",
                  hint=f"`velollm {command} --help` shows what it takes")
        return EXIT_USAGE
    name = word.split("=")[0]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
    if close:
        OUT.error(f"unknown option {name!r}; did you mean {close[0]!r}?")
    else:
        OUT.error(f"unknown option {name!r} for `velollm {command}`",
                  hint=f"`velollm {command} --help` lists its options")
    return EXIT_USAGE


def _keep_valid_documents() -> None:
    """A run that failed, or a dry run (`apply --check`, `destroy --check`: Ansible's check
    mode), writes nothing, not even a cache entry: the documents it found valid are remembered
    (io/validmemo.py) only once a real run has succeeded."""
    memo = sys.modules.get("velollm.io.validmemo")  # imported only when a document was checked
    if memo is not None:
        memo.flush()


def _command_word(args: Sequence[str]) -> str | None:
    """The first argument that is neither a global option nor the value of one: the command;
    None when there is none; "" when -h, --help or --version comes first (argparse answers)."""
    words = iter(args)
    for word in words:
        if word in ("-h", "--help", "--version", "--"):
            return ""
        if word.startswith("-"):
            if len(word) > 2 and "--color".startswith(word):  # takes a value; abbreviated too
                next(words, None)
            continue
        return word
    return None


class _Result:
    code: int = EXIT_ERROR


class _error_handler:  # lower case: reads like the context manager it is
    """Map exceptions to exit codes: VelollmError 1, ^C 130, anything else 3 with a crash log."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.result = _Result()

    def __enter__(self) -> _Result:
        return self.result

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is None:
            return False
        if isinstance(exc, VelollmError):
            self.result.code = _report_expected(exc)
        elif isinstance(exc, KeyboardInterrupt):
            OUT.error("Interrupted (^C)")
            self.result.code = EXIT_INTERRUPTED
        elif isinstance(exc, BrokenPipeError):
            # The reader went away (e.g. `velollm detect | head`): stop quietly.
            _silence_stdout()
            self.result.code = EXIT_ERROR
        elif isinstance(exc, Exception):
            log = write_crash_log(self.command, exc)
            OUT.error(f"an unexpected error occurred ({type(exc).__name__}: {exc}); "
                      "this is a bug in velollm",
                      hint=f"the traceback is in {log}; please attach it to a bug report")
            self.result.code = EXIT_BUG
        else:
            return False  # SystemExit and friends pass through
        return True


def _report_expected(exc: VelollmError) -> int:
    problems = exc.problems if isinstance(exc, SchemaValidationError) else [
        {"path": exc.path, "message": exc.message}]
    if OUT.json_mode:
        OUT.json({"status": "error", "errors": problems})
    if isinstance(exc, SchemaValidationError):
        for p in problems:
            where = ":".join(str(p[k]) for k in ("file", "line") if p.get(k))
            text = ": ".join(x for x in (where, p.get("path"), p["message"]) if x)
            OUT.error(text)
        OUT.error(exc.message, hint=exc.hint)
    else:
        OUT.error(exc.message, hint=exc.hint)
    return exc.exit_code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def crash_log_dir() -> Path:
    return state_dir() / "logs"


def write_crash_log(command: str, exc: BaseException) -> Path:
    import tempfile  # a crash is rare: not imported by every start
    import traceback

    text = (f"# velollm crash report\n\nversion: {__version__}\ncommand: {command}\n"
            f"python: {sys.version.split()[0]}\nplatform: {sys.platform}\n"
            f"argv: {sys.argv!r}\n\n```\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + "```\n")
    text = mask_secrets(text)  # a proxy's password in argv or an exception message stays out
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for directory in (crash_log_dir(), Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"velollm-crash-{stamp}-", suffix=".log",
                                        dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return Path(name)
        except OSError:
            continue
    return Path(os.devnull)
