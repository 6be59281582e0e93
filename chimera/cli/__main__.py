"""``python -m chimera.cli``: the same entry point as the ``chimera`` script."""

from chimera.cli import main

main()
