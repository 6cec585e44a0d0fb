"""Keeps pytest out of this folder: its modules are mypy's inputs (tests/test_typing.py)."""

# Not tests, and not to be imported for doctests either: mypy reads them as text.
collect_ignore_glob = ["*.py"]
