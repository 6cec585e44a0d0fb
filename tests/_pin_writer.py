"""A child process for the multi-process tests of FilePinStore (tests/test_pin_file.py).

Usage: ``python _pin_writer.py MODE BRV_DIR CONTROL_DIR NAME [COUNT]``

Every mode announces itself with ``CONTROL_DIR/ready-NAME`` and waits for
``CONTROL_DIR/go`` so that all children start together.

- ``pins``: COUNT times, pin ``NAME-k`` then record ``k`` under the key NAME.
- ``count``: COUNT times, increment the key ``counter`` through ``update``.
- ``read``: until ``CONTROL_DIR/stop`` exists, read the raw file and check it
  parses and still holds the keys the test put there; exit 1 on a violation.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from billing_core.adapters.pin_file import FilePinStore

_WAIT_LIMIT_S = 30.0


def _wait_for(flag: Path) -> None:
    deadline = time.monotonic() + _WAIT_LIMIT_S
    while not flag.exists():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {flag}")
        time.sleep(0.001)


def _pins(store: FilePinStore, name: str, count: int) -> None:
    for k in range(count):
        store.set_pinned_team_id(f"{name}-{k}")

        def record(doc: dict[str, Any], k: int = k) -> dict[str, Any]:
            return {**doc, name: k}

        store.update(record)


def _count(store: FilePinStore, count: int) -> None:
    def increment(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "counter": doc.get("counter", 0) + 1}

    for _ in range(count):
        store.update(increment)


def _read(store: FilePinStore, stop: Path) -> None:
    reads = 0
    while not stop.exists() or reads == 0:
        raw = store.path.read_bytes()
        try:
            doc = json.loads(raw)
        except ValueError:
            sys.exit(f"torn file after {reads} reads: {raw!r}")
        billing = doc.get("billing", {})
        if doc.get("keep") != {"nested": [1, 2, {"x": None}]} or billing.get("other") != 1:
            sys.exit(f"lost an unknown key after {reads} reads: {doc!r}")
        if not isinstance(billing.get("pinnedTeamId", ""), str):
            sys.exit(f"bad pin after {reads} reads: {doc!r}")
        reads += 1


def main(argv: list[str]) -> None:
    mode, brv_dir, control, name = argv[:4]
    control_dir = Path(control)
    store = FilePinStore(brv_dir)
    (control_dir / f"ready-{name}").touch()
    _wait_for(control_dir / "go")
    if mode == "pins":
        _pins(store, name, int(argv[4]))
    elif mode == "count":
        _count(store, int(argv[4]))
    elif mode == "read":
        _read(store, control_dir / "stop")
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
