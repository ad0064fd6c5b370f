"""``icans-interop``: the command line over the public API.

Each module registers its commands on the one Typer application (:mod:`.app`, which also
documents the exit codes); :mod:`.files` reads inputs and writes outputs safely.
"""

from __future__ import annotations

import sys

from icans_interop.cli.app import app, expand_multi_value_options, guard

# Importing a module registers its commands, in this order in --help.
# isort: off
from icans_interop.cli import case_commands  # noqa: F401
from icans_interop.cli import record_commands  # noqa: F401
from icans_interop.cli import form_commands  # noqa: F401
from icans_interop.cli import connection_commands  # noqa: F401
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    args = expand_multi_value_options(sys.argv[1:])
    guard(lambda: app(args=args, prog_name="icans-interop"))
