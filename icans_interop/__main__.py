"""``python -m icans_interop``: the ``icans-interop`` command."""

from icans_interop.cli import main

main()
