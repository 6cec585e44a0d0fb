"""The shell against bare httpx: CPU per resolve, and the command line's start-up.

The upstream is a :class:`~billing_core.testing.FakeBillingApi` in its own
process with no latency, so the client's process time is the client's work.

- ``cpu_async_resolve_vs_bare``: process CPU of one ``aresolve_billing``
  (pin file read, three GETs at once, decoding, the decision) over that of
  three bare ``httpx.AsyncClient`` GETs gathered at once, each body through
  ``json.loads``: what billing_core adds to the requests it has to make.
- ``cpu_sync_resolve_vs_bare_pool``: the same for ``resolve_billing``, against
  three bare ``httpx.Client`` GETs in a 3-thread pool.
- ``cli_status_vs_import_httpx``: wall time of ``billing-core status`` (a
  fresh process: start-up, imports, one resolve, the line printed) over that
  of ``python -c "import httpx"``.
- ``cli_version_vs_import_httpx``: ``billing-core --version`` over the same.
- ``cli_floor_vs_import_httpx`` and ``cli_bare_gets_vs_import_httpx`` (context):
  importing httpx's transport layer, attrs and cattrs (what any client on the
  required libraries loads), and bare httpx making the same three GETs, over
  importing httpx: the floor under the status figure.
- ``cli_status_vs_bare_gets``: ``billing-core status`` over those bare GETs,
  what the command line adds to the job itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _common import median_cpu_ratio, upstream_process

from billing_core import (
    AsyncHttpBillingService,
    BillingResolution,
    FilePinStore,
    HttpBillingService,
    aresolve_billing,
    resolve_billing,
)
from billing_core._endpoints import BILLING_PATHS
from billing_core._session import SESSION_HEADER
from billing_core.testing import DEFAULT_SESSION_KEY

PROVIDER = "byterover"
KEY = DEFAULT_SESSION_KEY
# Resolves per CPU sample: enough that a sample lasts tens of milliseconds.
INNER = 40


def _checked(resolution: BillingResolution) -> None:
    if resolution.status is None or resolution.problems:
        raise RuntimeError(f"the benchmark resolve went wrong: {resolution}")


def _sync_ratio(base_url: str, pins: FilePinStore, *, samples: int) -> float:
    urls = [base_url + path for path in BILLING_PATHS.values()]
    with (
        HttpBillingService(base_url) as billing,
        httpx.Client(headers={SESSION_HEADER: KEY}) as client,
        ThreadPoolExecutor(3) as pool,
    ):

        def ours() -> None:
            _checked(
                resolve_billing(
                    active_provider=PROVIDER, session_key=KEY, billing=billing, pins=pins
                )
            )

        def one(url: str) -> object:
            return json.loads(client.get(url).raise_for_status().content)

        def bare() -> None:
            list(pool.map(one, urls))

        return median_cpu_ratio(ours, bare, samples=samples, inner=INNER)


def _async_ratio(base_url: str, pins: FilePinStore, *, samples: int) -> float:
    urls = [base_url + path for path in BILLING_PATHS.values()]
    billing = AsyncHttpBillingService(base_url)
    client = httpx.AsyncClient(headers={SESSION_HEADER: KEY})

    async def ours() -> None:
        _checked(
            await aresolve_billing(
                active_provider=PROVIDER, session_key=KEY, billing=billing, pins=pins
            )
        )

    async def one(url: str) -> object:
        return json.loads((await client.get(url)).raise_for_status().content)

    async def bare() -> None:
        await asyncio.gather(*(one(url) for url in urls))

    # One loop for the whole measurement: pooled connections belong to it.
    with asyncio.Runner() as runner:

        def repeated(action: Callable[[], Awaitable[None]]) -> Callable[[], None]:
            async def repeat() -> None:
                for _ in range(INNER):
                    await action()

            return lambda: runner.run(repeat())

        try:
            return median_cpu_ratio(repeated(ours), repeated(bare), samples=samples, inner=1)
        finally:
            runner.run(billing.aclose())
            runner.run(client.aclose())


_BARE_THREE_GETS = f"""
import json, sys, httpx
base, key = sys.argv[1], sys.argv[2]
with httpx.Client() as client:
    for path in {list(BILLING_PATHS.values())!r}:
        json.loads(client.get(base + path, headers={{{SESSION_HEADER!r}: key}}).content)
"""


def _wall_seconds(command: list[str], *, env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return samples


def _cli_ratios(base_url: str, project: Path, *, runs: int) -> dict[str, float]:
    script = Path(sys.executable).with_name("billing-core")
    # The command line takes the root domain, as brv does, and adds /api/v1 itself.
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    env = {
        **{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
        "BRV_BILLING_BASE_URL": origin,
        "BRV_IAM_BASE_URL": origin,
        "BRV_SESSION_KEY": KEY,
        "BRV_ACTIVE_PROVIDER": PROVIDER,
    }
    commands = {
        "import_httpx": [sys.executable, "-c", "import httpx"],
        # What any client built on the required libraries imports before its
        # first request: httpx's transport layer, attrs and cattrs.
        "dependency_floor": [sys.executable, "-c", "import httpx, httpcore, attrs, cattrs"],
        # The same three GETs as bare httpx: the job, without billing_core.
        "bare_three_gets": [sys.executable, "-c", _BARE_THREE_GETS, base_url, KEY],
        "status": [str(script), "status", "--project", str(project)],
        "version": [str(script), "--version"],
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    # Warm the file cache and, as an installed package would have, the bytecode
    # (PYTHONDONTWRITEBYTECODE is dropped above so these runs can write it).
    for command in commands.values():
        _wall_seconds(command, env=env, runs=1)
    for _ in range(runs):  # alternating, so load hits every command alike
        for name, command in commands.items():
            samples[name] += _wall_seconds(command, env=env, runs=1)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "cli_status_vs_import_httpx": medians["status"] / medians["import_httpx"],
        "cli_floor_vs_import_httpx": medians["dependency_floor"] / medians["import_httpx"],
        "cli_bare_gets_vs_import_httpx": medians["bare_three_gets"] / medians["import_httpx"],
        "cli_status_vs_bare_gets": medians["status"] / medians["bare_three_gets"],
        "cli_version_vs_import_httpx": medians["version"] / medians["import_httpx"],
        "cli_status_ms": medians["status"] * 1e3,
        "cli_version_ms": medians["version"] * 1e3,
        "import_httpx_ms": medians["import_httpx"] * 1e3,
    }


def measure(*, samples: int = 15) -> dict[str, float]:
    """CPU of a resolve over bare httpx, and the command line's wall time over importing httpx."""
    with tempfile.TemporaryDirectory() as project, upstream_process() as base_url:
        pins = FilePinStore(Path(project) / ".brv")
        figures = {
            "cpu_async_resolve_vs_bare": _async_ratio(base_url, pins, samples=samples),
            "cpu_sync_resolve_vs_bare_pool": _sync_ratio(base_url, pins, samples=samples),
        }
        figures.update(_cli_ratios(base_url, Path(project), runs=samples))
    return figures


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value:.2f}")
