"""``python -m billing_core``: the ``billing-core`` command line."""

from __future__ import annotations

from billing_core.cli import run

if __name__ == "__main__":
    run()
