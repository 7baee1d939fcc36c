"""``python -m imr_rules``: the same as the ``imr-rules`` command."""

from .cli import main

main()
