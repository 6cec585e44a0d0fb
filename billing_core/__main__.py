"""``python -m billing_core``: the ``billing-core`` command line."""

from __future__ import annotations

import sys

from billing_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
