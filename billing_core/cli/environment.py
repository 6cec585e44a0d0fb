"""The names of the environment variables the command line reads, in a module that loads nothing.

A leaf, like :mod:`~billing_core.cli.exits`: the help text and the start-up
name them without loading the settings (which load the models). The
endpoint variables are :mod:`~billing_core.adapters.brv_endpoints`' own, and
``BRV_DATA_DIR`` is :mod:`~billing_core.adapters.brv_local`'s, where they are read.
"""

from __future__ import annotations

from typing import Final

from billing_core.adapters.brv_local import ENV_DATA_DIR

__all__ = ["ENV_ACTIVE_PROVIDER", "ENV_DATA_DIR", "ENV_SESSION_KEY"]

ENV_SESSION_KEY: Final = "BRV_SESSION_KEY"
"""The session key; when unset, the brv CLI's stored login is read."""

ENV_ACTIVE_PROVIDER: Final = "BRV_ACTIVE_PROVIDER"
"""The active LLM provider; when unset, the brv CLI's ``providers.json`` says."""
