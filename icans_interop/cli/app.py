"""The Typer application every command registers on, the consoles, and the exit codes.

Exit codes (the same for every command):

* 0 — success; the input is valid (warnings allowed).
* 1 — the input's content has errors, or what would be written has errors (nothing written).
* 2 — usage error: a bad option, or an output that cannot be written (the user's path and
  the operating system's reason are printed).
* 3 — an input cannot be read: missing, not a file of the expected kind, truncated or over
  a size limit. In a batch (``validate``) 3 wins over 1.
* 4 — internal error (a bug: please report it with the input; ``ICANS_INTEROP_DEBUG=1``
  shows the traceback).
* 130 — interrupted.

Heavy modules (pydicom, fhir.resources, ICD-10-CM) are imported inside the commands that
need them, so ``--help`` and ``--version`` stay fast. No command prints a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Final, NoReturn, TypeVar

import typer
from rich.console import Console

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREADABLE: Final = 3
EXIT_INTERNAL: Final = 4
EXIT_INTERRUPTED: Final = 130

T = TypeVar("T")

app = typer.Typer(name="icans-interop", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Exchange and validate ICANS imaging findings as DICOM SR and FHIR.")


def _console(stream_is_tty: bool, *, stderr: bool) -> Console:
    """A console that never cuts lines when its stream is not a terminal (a pipe or a file
    gets whole lines, however long; a terminal gets its own width)."""
    width = None if stream_is_tty else 1_000_000
    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, width=width)


out = _console(sys.stdout.isatty(), stderr=False)
err = _console(sys.stderr.isatty(), stderr=True)


class CliExit(typer.Exit):
    """Leave the command with an exit code after a message has been printed."""


def fail(message: str, code: int = EXIT_UNREADABLE) -> NoReturn:
    """Print ``error: message`` on standard error and leave with ``code``."""
    err.print(f"error: {message}", style="bold red")
    raise CliExit(code)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("icans-interop")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        out.print(f"icans-interop {version_text()}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_show_version,
        help="Print the version and exit.")] = False) -> None:
    """Exchange and validate ICANS imaging findings as DICOM SR and FHIR.

    Exit codes: 0 ok, 1 errors in the content (nothing written), 2 usage or an output that
    cannot be written, 3 an input that cannot be read, 4 internal error.
    """


#: Options that take several values after one flag (``--source-image a.dcm b.dcm``).
MULTI_VALUE_OPTIONS: Final = frozenset({"--source-image"})


def expand_multi_value_options(args: Sequence[str]) -> list[str]:
    """``--source-image a b`` -> ``--source-image a --source-image b``: the values run to the
    next token that starts with ``-`` (a lone ``-`` is a value), as argparse's ``nargs='+'``."""
    expanded: list[str] = []
    option: str | None = None
    for arg in args:
        if arg == "--":
            option = None
            expanded.append(arg)
        elif arg.startswith("-") and arg != "-":
            option = arg if arg in MULTI_VALUE_OPTIONS else None
            expanded.append(arg)
        elif option is not None and expanded[-1] != option:
            expanded += [option, arg]
        else:
            expanded.append(arg)
    return expanded


def guard(func: Callable[[], T]) -> T:
    """Run ``func``; an unexpected exception becomes exit 4 with one line, never a traceback."""
    try:
        return func()
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # last line of defence: no traceback for users
        if os.environ.get("ICANS_INTEROP_DEBUG"):
            raise
        err.print(f"error: internal error: {type(exc).__name__}: {exc} "
                  "(set ICANS_INTEROP_DEBUG=1 for details)")
        raise SystemExit(EXIT_INTERNAL) from None
