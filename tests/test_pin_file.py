"""FilePinStore: the pin file keeps what it does not own, writes atomically, never loses data."""

from __future__ import annotations

import json
import logging
import math
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import billing_core
from billing_core.adapters._folder import read_at_most
from billing_core.adapters.pin_file import MAX_PIN_FILE_BYTES, PIN_FILE_NAME, FilePinStore
from billing_core.errors import BillingConfigError, PinStoreError
from billing_core.ports import PinRead, PinStore

WRITER_SCRIPT = Path(__file__).with_name("_pin_writer.py")
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def brv(tmp_path: Path) -> Path:
    return tmp_path / "project" / ".brv"


def write_raw(brv: Path, content: bytes) -> Path:
    brv.mkdir(parents=True, exist_ok=True)
    path = brv / PIN_FILE_NAME
    path.write_bytes(content)
    return path


def read_json(brv: Path) -> Any:
    return json.loads((brv / PIN_FILE_NAME).read_text(encoding="utf-8"))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def _refuse_non_finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def read_strict_json(path: Path) -> Any:
    """Parse like JavaScript's JSON.parse would accept: no NaN/Infinity, no overflow."""
    return json.loads(
        path.read_bytes(), parse_constant=_refuse_constant, parse_float=_refuse_non_finite
    )


def ordered(value: Any) -> Any:
    """JSON with every object turned into its list of pairs, so key order counts."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


def stray_files(brv: Path) -> list[str]:
    """Files a write may not leave behind: temporaries (backups and the lock are expected)."""
    return sorted(name for name in os.listdir(brv) if name.endswith(".tmp"))


# -- construction ------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "   ", "relative/.brv", ".brv", "~/.brv", "/tmp/a\0b"])
def test_unusable_directories_are_refused(bad: str) -> None:
    with pytest.raises(BillingConfigError, match=r"\.brv directory"):
        FilePinStore(bad)


def test_bytes_directory_is_refused() -> None:
    with pytest.raises(BillingConfigError, match="text path"):
        FilePinStore(b"/tmp/.brv")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, -0.5, -1, True, False, "1", None, [1.0]]
)
def test_unusable_lock_timeouts_are_refused(brv: Path, bad: Any) -> None:
    with pytest.raises(BillingConfigError, match="lock_timeout must be a finite number"):
        FilePinStore(brv, lock_timeout=bad)


@pytest.mark.parametrize("good", [0, 0.0, 0.01, 10, 1e9, 1e300])
def test_finite_non_negative_lock_timeouts_are_accepted(brv: Path, good: float) -> None:
    store = FilePinStore(brv, lock_timeout=good)
    store.set_pinned_team_id("team-1")
    assert store.get_pinned_team_id() == "team-1"


def test_paths_and_repr(brv: Path) -> None:
    store = FilePinStore(str(brv))
    assert store.directory == brv
    assert store.path == brv / "brv-provider.json"
    assert store.lock_path == brv / "brv-provider.json.lock"
    assert repr(store) == f"FilePinStore({str(brv)!r})"
    assert FilePinStore(brv).path == store.path  # os.PathLike accepted too


def test_public_name_is_lazy_export() -> None:
    assert billing_core.FilePinStore is FilePinStore


def test_it_is_a_pin_store(brv: Path) -> None:
    store: PinStore = FilePinStore(brv)  # mypy checks the protocol statically
    assert isinstance(store, PinStore)


# -- round trips ----------------------------------------------------------------


def test_missing_directory_reads_as_no_pin(brv: Path) -> None:
    store = FilePinStore(brv)
    assert store.get_pinned_team_id() is None
    assert store.read_pin() == PinRead(None, None)
    assert not brv.exists()  # reading never creates anything


def test_set_get_clear_round_trip(brv: Path) -> None:
    store = FilePinStore(brv)
    store.set_pinned_team_id("team-1")
    assert store.get_pinned_team_id() == "team-1"
    assert FilePinStore(brv).get_pinned_team_id() == "team-1"  # it is on disk
    store.set_pinned_team_id("team-2")
    assert store.get_pinned_team_id() == "team-2"
    store.set_pinned_team_id(None)
    assert store.get_pinned_team_id() is None
    assert read_json(brv) == {}
    assert stray_files(brv) == []
    assert store.last_backup_path is None


def test_first_write_creates_directory_and_parents(brv: Path) -> None:
    assert not brv.parent.exists()
    FilePinStore(brv).set_pinned_team_id("team-1")
    assert read_json(brv) == {"billing": {"pinnedTeamId": "team-1"}}


def test_file_is_pretty_printed_utf8_with_trailing_newline(brv: Path) -> None:
    write_raw(brv, '{"name":"Café ☕","billing":{"x":[1,2]}}'.encode())
    FilePinStore(brv).set_pinned_team_id("équipe")
    assert (brv / PIN_FILE_NAME).read_text(encoding="utf-8") == (
        "{\n"
        '  "name": "Café ☕",\n'
        '  "billing": {\n'
        '    "x": [\n'
        "      1,\n"
        "      2\n"
        "    ],\n"
        '    "pinnedTeamId": "équipe"\n'
        "  }\n"
        "}\n"
    )


def test_lone_surrogates_survive_a_rewrite(brv: Path) -> None:
    write_raw(brv, b'{"odd": "\\ud800x", "name": "caf\\u00e9"}')
    FilePinStore(brv).set_pinned_team_id("team-1")
    raw = (brv / PIN_FILE_NAME).read_bytes()
    raw.decode("utf-8")  # still valid UTF-8
    assert json.loads(raw) == {
        "odd": "\ud800x",
        "name": "café",
        "billing": {"pinnedTeamId": "team-1"},
    }


def test_billing_object_is_dropped_when_it_becomes_empty(brv: Path) -> None:
    write_raw(brv, b'{"a": 1, "billing": {"pinnedTeamId": "t"}, "z": 2}')
    FilePinStore(brv).set_pinned_team_id(None)
    assert ordered(read_json(brv)) == [("a", 1), ("z", 2)]


def test_billing_object_is_kept_while_it_has_other_keys(brv: Path) -> None:
    write_raw(brv, b'{"billing": {"pinnedTeamId": "t", "budget": {"cap": 5}}}')
    FilePinStore(brv).set_pinned_team_id(None)
    assert read_json(brv) == {"billing": {"budget": {"cap": 5}}}


def test_empty_string_pin_clears(brv: Path) -> None:
    store = FilePinStore(brv)
    store.set_pinned_team_id("team-1")
    store.set_pinned_team_id("")
    assert store.get_pinned_team_id() is None
    assert read_json(brv) == {}


def test_clearing_without_a_file_creates_nothing(brv: Path) -> None:
    FilePinStore(brv).set_pinned_team_id(None)
    assert not brv.exists()
    brv.mkdir(parents=True)
    FilePinStore(brv).set_pinned_team_id(None)
    assert os.listdir(brv) == []


def test_a_write_that_changes_nothing_leaves_the_bytes_alone(brv: Path) -> None:
    original = b'{"billing":{"pinnedTeamId":"t"},"other":true}'
    path = write_raw(brv, original)
    store = FilePinStore(brv)
    store.set_pinned_team_id("t")
    store.update(lambda doc: doc)
    assert path.read_bytes() == original
    write_raw(brv, b'{"other":true}')
    store.set_pinned_team_id(None)
    assert path.read_bytes() == b'{"other":true}'


def test_update_reads_and_writes_the_whole_object(brv: Path) -> None:
    store = FilePinStore(brv)
    store.set_pinned_team_id("team-1")
    store.update(lambda doc: {"activeProvider": "byterover", **doc})
    assert ordered(read_json(brv)) == [
        ("activeProvider", "byterover"),
        ("billing", [("pinnedTeamId", "team-1")]),
    ]


@pytest.mark.parametrize("bad", [123, 1.5, True, b"team-1", ["team-1"], {"id": "t"}])
def test_a_pin_that_is_not_a_string_is_refused_before_touching_the_file(
    brv: Path, bad: Any
) -> None:
    store = FilePinStore(brv)
    with pytest.raises(TypeError, match=r"team_id must be a string or None, not \w+"):
        store.set_pinned_team_id(bad)
    assert not brv.exists()  # not even the directory or the lock file
    original = b'{"keep": 1, "billing": {"pinnedTeamId": "old"}}'
    path = write_raw(brv, original)
    with pytest.raises(TypeError, match="team_id"):
        store.set_pinned_team_id(bad)
    assert path.read_bytes() == original
    assert sorted(os.listdir(brv)) == [PIN_FILE_NAME]
    assert store.read_pin() == PinRead("old", None)


def test_a_finite_float_of_another_tool_survives_a_rewrite(brv: Path) -> None:
    write_raw(brv, b'{"big": 1e300, "small": -2.5e-300, "n": 12345678901234567890}')
    store = FilePinStore(brv)
    store.set_pinned_team_id("t1")
    assert store.last_backup_path is None
    assert read_strict_json(store.path) == {
        "big": 1e300,
        "small": -2.5e-300,
        "n": 12345678901234567890,
        "billing": {"pinnedTeamId": "t1"},
    }


@pytest.mark.parametrize(
    "content",
    [
        b'{"big": 1e400, "billing": {"x": 1}}',
        b'{"small": -1e999}',
        b'{"n": NaN, "billing": {"pinnedTeamId": "old"}}',
        b'{"deep": [{"i": Infinity}]}',
        b'{"i": -Infinity}',
    ],
    ids=["1e400", "-1e999", "NaN", "Infinity", "-Infinity"],
)
def test_a_rewrite_never_turns_the_file_into_non_strict_json(brv: Path, content: bytes) -> None:
    path = write_raw(brv, content)
    store = FilePinStore(brv)
    assert store.get_pinned_team_id() is None  # such a file is corrupt: no pin from it
    store.set_pinned_team_id("t1")
    assert read_strict_json(path) == {"billing": {"pinnedTeamId": "t1"}}
    assert store.last_backup_path is not None
    assert store.last_backup_path.read_bytes() == content  # the other tool's bytes are kept


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_update_refuses_a_non_finite_number_and_writes_nothing(brv: Path, bad: float) -> None:
    path = write_raw(brv, b'{"a": 1}')
    with pytest.raises(ValueError, match="JSON compliant"):
        FilePinStore(brv).update(lambda doc: {**doc, "x": bad})
    assert path.read_bytes() == b'{"a": 1}'
    assert stray_files(brv) == []


def test_update_must_return_an_object(brv: Path) -> None:
    path = write_raw(brv, b'{"a": 1}')
    with pytest.raises(TypeError, match="dict"):
        FilePinStore(brv).update(lambda doc: [doc])  # type: ignore[arg-type,return-value]
    assert path.read_bytes() == b'{"a": 1}'
    assert stray_files(brv) == []


def test_file_permissions_are_kept(brv: Path) -> None:
    path = write_raw(brv, b"{}")
    path.chmod(0o600)
    FilePinStore(brv).set_pinned_team_id("team-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- a hostile .brv: links, FIFOs, devices, huge files ----------------------------------

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")
needs_fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")

OUTSIDE_CONTENTS = {
    "dotfile": b"export SECRET=hunter2\n",  # corrupt as a pin file: would be backed up
    "pin-file": b'{"billing": {"pinnedTeamId": "outside-team"}}',  # would be read as the pin
}


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


def backups(brv: Path) -> list[str]:
    return [name for name in files_in(brv) if ".corrupt-" in name]


def assert_refused(store: FilePinStore, *, read: str, write: str, clears: bool = True) -> None:
    """Reading and every kind of write raise a PinStoreError saying why.

    ``clears=False``: clearing finds no file there and writes nothing, as it must.
    """
    with pytest.raises(PinStoreError, match=read):
        store.read_pin()
    with pytest.raises(PinStoreError, match=read):
        store.get_pinned_team_id()
    writes: list[Callable[[], None]] = [
        lambda: store.set_pinned_team_id("team-1"),
        lambda: store.update(lambda doc: {**doc, "x": 1}),
    ]
    if clears:
        writes.append(lambda: store.set_pinned_team_id(None))
    else:
        store.set_pinned_team_id(None)
    for write_once in writes:
        with pytest.raises(PinStoreError, match=write):
            write_once()
    assert store.last_backup_path is None


@needs_symlinks
@pytest.mark.parametrize("outside", OUTSIDE_CONTENTS)
def test_a_pin_file_linked_outside_is_never_read_written_nor_backed_up(
    brv: Path, tmp_path: Path, outside: str
) -> None:
    # A repository ships .brv/brv-provider.json -> ../../home/.bashrc: a pin used
    # to replace that file and copy its bytes into the repository's .brv.
    target = tmp_path / "home" / ".bashrc"
    target.parent.mkdir()
    target.write_bytes(OUTSIDE_CONTENTS[outside])
    brv.mkdir(parents=True)
    link = brv / PIN_FILE_NAME
    link.symlink_to(os.path.relpath(target, brv))
    store = FilePinStore(brv)
    assert_refused(
        store,
        read=r"cannot read pin file .*brv-provider\.json: it is a symbolic link, which is never",
        write=r"cannot write pin file .*: it is a symbolic link, which is never followed",
    )
    assert target.read_bytes() == OUTSIDE_CONTENTS[outside]
    assert files_in(target.parent) == [".bashrc"]
    assert link.is_symlink()
    assert backups(brv) == []
    assert stray_files(brv) == []


@needs_symlinks
def test_a_dangling_pin_file_link_creates_nothing_outside(brv: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "created-by-a-pin.json"
    target.parent.mkdir()
    brv.mkdir(parents=True)
    (brv / PIN_FILE_NAME).symlink_to(target)
    store = FilePinStore(brv)
    assert_refused(store, read="symbolic link", write="symbolic link")
    assert files_in(target.parent) == []
    assert stray_files(brv) == []


@needs_symlinks
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-directory", "dangling"])
def test_a_linked_brv_directory_is_not_followed(brv: Path, tmp_path: Path, dangling: bool) -> None:
    elsewhere = tmp_path / "other-project" / ".brv"
    if not dangling:
        elsewhere.mkdir(parents=True)
        (elsewhere / PIN_FILE_NAME).write_bytes(OUTSIDE_CONTENTS["pin-file"])
    brv.parent.mkdir(parents=True)
    brv.symlink_to(elsewhere, target_is_directory=True)
    store = FilePinStore(brv)
    assert_refused(
        store,
        read=rf"cannot read pin file .*: {brv} is a symbolic link, which is never followed",
        write=rf"cannot lock pin file .*: {brv} is a symbolic link, which is never followed",
        clears=not dangling,
    )
    if dangling:
        assert not elsewhere.exists()
        assert not elsewhere.parent.exists()
    else:
        assert files_in(elsewhere) == [PIN_FILE_NAME]  # no lock, temporary or backup there
        assert (elsewhere / PIN_FILE_NAME).read_bytes() == OUTSIDE_CONTENTS["pin-file"]


@needs_symlinks
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_linked_lock_file_is_not_followed(brv: Path, tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "home" / ".profile"
    target.parent.mkdir()
    if not dangling:
        target.write_bytes(b"keep me\n")
    path = write_raw(brv, b'{"billing": {"pinnedTeamId": "old"}}')
    (brv / (PIN_FILE_NAME + ".lock")).symlink_to(target)
    store = FilePinStore(brv)
    with pytest.raises(PinStoreError, match=r"cannot lock pin file .*\.lock is a symbolic link"):
        store.set_pinned_team_id("new")
    assert store.get_pinned_team_id() == "old"  # reads never lock
    assert path.read_bytes() == b'{"billing": {"pinnedTeamId": "old"}}'
    assert files_in(target.parent) == ([] if dangling else [".profile"])
    if not dangling:
        assert target.read_bytes() == b"keep me\n"


# What a store does with a hostile pin path, run in a child process: a regression
# that blocks (FIFO) or reads without end (/dev/zero) then fails on the timeout or
# the memory limit instead of hanging the suite or exhausting the machine.
_PROBE = """
import json, resource, sys
limit = 512 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from billing_core.adapters.pin_file import FilePinStore
from billing_core.errors import PinStoreError
store = FilePinStore(sys.argv[1])
outcome = {}
for name, call in (("read", store.read_pin), ("write", lambda: store.set_pinned_team_id("t"))):
    try:
        outcome[name] = "returned " + repr(call())
    except PinStoreError as exc:
        outcome[name] = "PinStoreError: " + str(exc)
    except MemoryError:
        outcome[name] = "MemoryError"
print(json.dumps(outcome))
"""


def probe(brv: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path])}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(brv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,  # a FIFO used to block forever: fail here instead
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    outcome: dict[str, str] = json.loads(done.stdout)
    return outcome


@needs_fifos
@pytest.mark.skipif(sys.platform == "win32", reason="resource limits are POSIX")
@pytest.mark.parametrize("at", [PIN_FILE_NAME, PIN_FILE_NAME + ".lock"])
def test_a_fifo_is_refused_at_once(brv: Path, at: str) -> None:
    brv.mkdir(parents=True)
    os.mkfifo(brv / at)
    outcome = probe(brv)
    if at == PIN_FILE_NAME:
        assert outcome["read"].startswith("PinStoreError: cannot read pin file")
        assert outcome["read"].endswith("it is a FIFO, not a regular file")
        assert outcome["write"].endswith("it is a FIFO, not a regular file")
    else:
        assert outcome["read"] == "returned PinRead(team_id=None, problem=None)"
        assert outcome["write"].startswith("PinStoreError: cannot lock pin file")
        assert outcome["write"].endswith(".lock is a FIFO, not a regular file")
    assert stat.S_ISFIFO((brv / at).lstat().st_mode)  # left as it was


@needs_symlinks
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_link_to_dev_zero_is_refused_without_reading(brv: Path) -> None:
    brv.mkdir(parents=True)
    (brv / PIN_FILE_NAME).symlink_to("/dev/zero")
    outcome = probe(brv)
    assert outcome["read"].endswith("it is a symbolic link, which is never followed")
    assert outcome["write"].endswith("it is a symbolic link, which is never followed")


def padded_pin_file(size: int) -> bytes:
    """A valid pin file of exactly ``size`` bytes, pinning ``team-big``."""
    head, tail = b'{"billing": {"pinnedTeamId": "team-big"}, "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_pin_file_over_the_cap_is_a_problem_and_is_never_rewritten(
    brv: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert MAX_PIN_FILE_BYTES == 4 * 1024 * 1024  # the cap the docs promise
    at_the_cap = FilePinStore(brv.parent / "at-the-cap" / ".brv")
    write_raw(at_the_cap.directory, padded_pin_file(MAX_PIN_FILE_BYTES))
    assert at_the_cap.read_pin() == PinRead("team-big", None)
    at_the_cap.set_pinned_team_id("team-1")
    assert read_json(at_the_cap.directory)["billing"] == {"pinnedTeamId": "team-1"}

    content = padded_pin_file(MAX_PIN_FILE_BYTES + 1)
    path = write_raw(brv, content)
    read_sizes: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        chunk = real_read(fd, size)
        read_sizes.append(len(chunk))
        return chunk

    monkeypatch.setattr(os, "read", counting_read)
    store = FilePinStore(brv)
    read = store.read_pin()
    assert read.team_id is None
    assert read.problem == (
        f"pin file {path} was not read: it is larger than 4 MiB, the most a pin file may hold"
    )
    with caplog.at_level(logging.WARNING, logger="billing_core"):
        assert store.get_pinned_team_id() is None
    assert "larger than 4 MiB" in caplog.text
    writes: list[Callable[[], None]] = [
        lambda: store.set_pinned_team_id("team-1"),
        lambda: store.set_pinned_team_id(None),
        lambda: store.update(lambda doc: {"x": 1}),
    ]
    for write_once in writes:
        with pytest.raises(PinStoreError, match=r"larger than 4 MiB.*; it was left as it is"):
            write_once()
    assert sum(read_sizes) == 0  # refused on its size, not read
    monkeypatch.undo()
    assert path.read_bytes() == content
    assert backups(brv) == []
    assert stray_files(brv) == []


def test_reading_stops_past_the_cap_whatever_the_size_said(tmp_path: Path) -> None:
    # A file growing while it is read (or a size that lies) still costs at most cap + 1.
    path = tmp_path / "growing"
    path.write_bytes(b"x" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_at_most(fd, 999) is None
        assert os.lseek(fd, 0, os.SEEK_CUR) == 1000
        os.lseek(fd, 0, os.SEEK_SET)
        assert read_at_most(fd, 1000) == b"x" * 1000
    finally:
        os.close(fd)


STALE = [".brv-provider.json.0123456789ab.tmp", ".brv-provider.json.ffffffffffff.tmp"]
NOT_OURS = [
    ".brv-provider.json.0123456789AB.tmp",  # upper case: not a name this store makes
    ".brv-provider.json.0123456789a.tmp",
    ".brv-provider.json.0123456789ab.tmp.keep",
    "brv-provider.json.0123456789ab.tmp",
    ".other.json.0123456789ab.tmp",
    "notes.tmp",
]


def test_a_writer_removes_the_temporary_files_of_writers_that_were_killed(brv: Path) -> None:
    path = write_raw(brv, b'{"billing": {"pinnedTeamId": "old"}}')
    for name in STALE + NOT_OURS:
        (brv / name).write_bytes(b'{"half": ')
    store = FilePinStore(brv)
    assert store.get_pinned_team_id() == "old"
    assert files_in(brv) == sorted([PIN_FILE_NAME, *STALE, *NOT_OURS])  # reading never writes
    store.set_pinned_team_id("new")
    assert files_in(brv) == sorted([PIN_FILE_NAME, PIN_FILE_NAME + ".lock", *NOT_OURS])
    assert json.loads(path.read_bytes()) == {"billing": {"pinnedTeamId": "new"}}


def test_stale_temporary_files_go_even_when_the_write_changes_nothing(brv: Path) -> None:
    write_raw(brv, b'{"billing": {"pinnedTeamId": "same"}}')
    (brv / STALE[0]).write_bytes(b"")
    FilePinStore(brv).set_pinned_team_id("same")
    assert STALE[0] not in files_in(brv)


def test_a_directory_named_like_a_temporary_file_is_left_and_the_write_succeeds(
    brv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (brv / STALE[0]).mkdir(parents=True)
    store = FilePinStore(brv)
    with caplog.at_level(logging.WARNING, logger="billing_core"):
        store.set_pinned_team_id("team-1")
    assert (brv / STALE[0]).is_dir()
    assert store.get_pinned_team_id() == "team-1"
    assert "cannot remove stale" in caplog.text


# -- unknown keys (property) --------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
other_keys = st.dictionaries(
    st.text(max_size=8).filter(lambda key: key != "billing"), json_values, max_size=4
)
billing_extras = st.dictionaries(
    st.text(max_size=8).filter(lambda key: key != "pinnedTeamId"), json_values, max_size=3
)


@settings(max_examples=60, deadline=None)
@given(
    others=other_keys,
    extras=billing_extras,
    old_pin=st.none() | st.text(min_size=1, max_size=8),
    billing_at=st.integers(min_value=0, max_value=4),
    pin=st.text(min_size=1, max_size=12),
)
def test_unknown_keys_survive_set_and_clear_in_order(
    others: dict[str, Any],
    extras: dict[str, Any],
    old_pin: str | None,
    billing_at: int,
    pin: str,
) -> None:
    billing = dict(extras)
    if old_pin is not None:
        billing["pinnedTeamId"] = old_pin
    items = list(others.items())
    if billing:
        items.insert(billing_at, ("billing", billing))
    document = dict(items)
    with tempfile.TemporaryDirectory() as tmp:
        brv = Path(tmp) / ".brv"
        write_raw(brv, json.dumps(document).encode())
        store = FilePinStore(brv)
        assert store.get_pinned_team_id() == old_pin

        store.set_pinned_team_id(pin)
        pinned = dict(document)  # assigning an existing key keeps its place
        pinned["billing"] = {**billing, "pinnedTeamId": pin}
        assert ordered(read_json(brv)) == ordered(pinned)
        assert store.get_pinned_team_id() == pin

        store.set_pinned_team_id(None)
        cleared = dict(document)
        if extras:
            cleared["billing"] = extras
        else:
            cleared.pop("billing", None)
        assert ordered(read_json(brv)) == ordered(cleared)
        assert store.read_pin() == PinRead(None, None)
        assert store.last_backup_path is None
        assert stray_files(brv) == []


# -- odd but harmless content ----------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"  \n",
        b'{"billing": null}',
        b'{"billing": {"pinnedTeamId": null, "x": 1}}',
        b'{"billing": {"pinnedTeamId": ""}}',
    ],
    ids=["empty", "blank", "billing-null", "pin-null", "pin-empty-string"],
)
def test_absent_values_mean_no_pin_and_no_problem(brv: Path, content: bytes) -> None:
    write_raw(brv, content)
    store = FilePinStore(brv)
    assert store.read_pin() == PinRead(None, None)
    store.set_pinned_team_id("team-1")
    assert store.get_pinned_team_id() == "team-1"
    assert store.last_backup_path is None
    assert [name for name in os.listdir(brv) if ".corrupt-" in name] == []


def test_duplicate_keys_read_last_but_are_backed_up_before_a_rewrite(brv: Path) -> None:
    content = b'{"billing": {"pinnedTeamId": "a", "pinnedTeamId": "b"}, "k": 1, "k": 2}'
    write_raw(brv, content)
    store = FilePinStore(brv)
    assert store.read_pin() == PinRead("b", None)
    store.set_pinned_team_id("c")
    assert store.last_backup_path is not None
    assert store.last_backup_path.read_bytes() == content
    assert read_json(brv) == {"billing": {"pinnedTeamId": "c"}, "k": 2}


# -- corrupt content -------------------------------------------------------------------

# (content, what the problem says, what a set("new") keeps besides the pin)
CORRUPT: dict[str, tuple[bytes, str, dict[str, Any]]] = {
    "not-json": (b'{"billing": {"pinnedTeamId": "t"', "not valid JSON", {}),
    "invalid-utf8": (b'{"a": "\xff\xfe"}', "not valid JSON", {}),
    "array": (b'["team-1"]', "found an array", {}),
    "string": (b'"team-1"', "found a string", {}),
    "null": (b"null", "found null", {}),
    "billing-string": (b'{"keep": 1, "billing": "team-1"}', '"billing"', {"keep": 1}),
    "billing-array": (b'{"billing": [1], "keep": [2]}', "found an array", {"keep": [2]}),
    "pin-number": (
        b'{"keep": 1, "billing": {"pinnedTeamId": 5, "x": {"y": 2}}}',
        '"billing.pinnedTeamId" should be a string, found a number',
        {"keep": 1, "billing": {"x": {"y": 2}}},
    ),
    "pin-object": (b'{"billing": {"pinnedTeamId": {"id": "t"}}}', "found an object", {}),
    "pin-bool": (b'{"billing": {"pinnedTeamId": true}}', "found a boolean", {}),
    "nan": (b'{"keep": 1, "n": NaN}', "NaN is not a JSON number", {}),
    "infinity": (b'{"billing": {"x": Infinity}}', "Infinity is not a JSON number", {}),
    "minus-infinity": (b"[-Infinity]", "-Infinity is not a JSON number", {}),
    "overflow": (
        b'{"big": 1e400, "billing": {"x": 1}}',
        "the number 1e400 is out of range: a rewrite would turn it into Infinity",
        {},
    ),
    "negative-overflow": (b'{"n": -1e999}', "turn it into -Infinity, which is not JSON", {}),
}


@pytest.mark.parametrize("variant", CORRUPT)
def test_corrupt_file_reads_as_no_pin_with_a_problem(
    brv: Path, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    content, problem, _ = CORRUPT[variant]
    write_raw(brv, content)
    store = FilePinStore(brv)
    read = store.read_pin()
    assert read.team_id is None
    assert read.problem is not None
    assert problem in read.problem
    assert str(store.path) in read.problem
    with caplog.at_level(logging.WARNING, logger="billing_core"):
        assert store.get_pinned_team_id() is None
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "corrupt" in caplog.text
    assert (brv / PIN_FILE_NAME).read_bytes() == content  # reading changes nothing


@pytest.mark.parametrize("variant", CORRUPT)
@pytest.mark.parametrize("new_pin", ["team-9", None])
def test_writing_over_a_corrupt_file_keeps_its_bytes_in_a_backup(
    brv: Path, variant: str, new_pin: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    content, _, kept = CORRUPT[variant]
    write_raw(brv, content)
    store = FilePinStore(brv)
    with caplog.at_level(logging.WARNING, logger="billing_core"):
        store.set_pinned_team_id(new_pin)
    backup = store.last_backup_path
    assert backup is not None
    assert backup.parent == brv
    assert backup.name.startswith("brv-provider.json.corrupt-")
    assert backup.read_bytes() == content
    assert str(backup) in caplog.text
    expected = dict(kept)
    if new_pin is not None:
        expected["billing"] = {**expected.get("billing", {}), "pinnedTeamId": new_pin}
    assert read_json(brv) == expected
    assert store.read_pin() == PinRead(new_pin, None)
    assert stray_files(brv) == []


def test_a_second_corruption_never_overwrites_the_first_backup(brv: Path) -> None:
    store = FilePinStore(brv)
    write_raw(brv, b"first {")
    store.set_pinned_team_id("a")
    first = store.last_backup_path
    write_raw(brv, b"second [")
    store.set_pinned_team_id("b")
    second = store.last_backup_path
    write_raw(brv, b"third ")
    store.update(lambda doc: {**doc, "x": 1})
    third = store.last_backup_path
    assert first is not None
    assert second is not None
    assert third is not None
    assert len({first, second, third}) == 3
    assert first.read_bytes() == b"first {"
    assert second.read_bytes() == b"second ["
    assert third.read_bytes() == b"third "
    assert read_json(brv) == {"x": 1}


def test_a_repaired_file_is_not_backed_up_again(brv: Path) -> None:
    write_raw(brv, b"oops")
    store = FilePinStore(brv)
    store.set_pinned_team_id("a")
    store.set_pinned_team_id("b")
    assert len([name for name in os.listdir(brv) if ".corrupt-" in name]) == 1


# -- unreadable and unwritable -----------------------------------------------------------


def test_a_directory_in_place_of_the_file_is_a_pin_store_error(brv: Path) -> None:
    (brv / PIN_FILE_NAME).mkdir(parents=True)
    store = FilePinStore(brv)
    with pytest.raises(PinStoreError, match="cannot read pin file"):
        store.get_pinned_team_id()
    with pytest.raises(PinStoreError, match="cannot read pin file"):
        store.read_pin()
    with pytest.raises(PinStoreError):
        store.set_pinned_team_id("team-1")
    assert (brv / PIN_FILE_NAME).is_dir()
    assert stray_files(brv) == []


def test_a_file_in_place_of_the_directory_is_a_pin_store_error(brv: Path) -> None:
    brv.parent.mkdir(parents=True)
    brv.write_text("not a directory")
    store = FilePinStore(brv)
    with pytest.raises(PinStoreError, match="cannot read pin file"):
        store.get_pinned_team_id()
    with pytest.raises(PinStoreError, match="cannot lock pin file") as caught:
        store.set_pinned_team_id("team-1")
    assert str(caught.value).endswith(f": {brv} exists and is not a directory")
    assert brv.read_text() == "not a directory"


def test_a_file_in_place_of_a_parent_directory_is_named(brv: Path) -> None:
    brv.parent.parent.mkdir(parents=True, exist_ok=True)
    brv.parent.write_text("not a directory")
    with pytest.raises(PinStoreError) as caught:
        FilePinStore(brv).set_pinned_team_id("team-1")
    assert str(caught.value).endswith(f": {brv.parent} exists and is not a directory")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root ignores file permissions"
)
def test_an_unreadable_file_is_a_pin_store_error(brv: Path) -> None:
    path = write_raw(brv, b'{"billing": {"pinnedTeamId": "t"}}')
    path.chmod(0)
    try:
        with pytest.raises(PinStoreError, match="Permission denied"):
            FilePinStore(brv).get_pinned_team_id()
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_write_leaves_the_original_and_no_temporary_file(
    brv: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    original = b'{"keep": 1, "billing": {"pinnedTeamId": "old"}}'
    path = write_raw(brv, original)

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    store = FilePinStore(brv)
    with pytest.raises(PinStoreError, match=r"cannot write pin file .*No space left on device"):
        store.set_pinned_team_id("new")
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert stray_files(brv) == []
    store.set_pinned_team_id("new")  # the lock was released
    assert store.get_pinned_team_id() == "new"


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_held_lock_times_out_with_a_pin_store_error(brv: Path) -> None:
    import fcntl

    brv.mkdir(parents=True)
    store = FilePinStore(brv, lock_timeout=0.05)
    with open(store.lock_path, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(PinStoreError, match=r"timed out .* waiting for the lock"):
            store.set_pinned_team_id("team-1")
        assert store.get_pinned_team_id() is None  # reads never wait for the lock
    store.set_pinned_team_id("team-1")
    assert store.get_pinned_team_id() == "team-1"


def test_a_writer_of_this_process_holding_the_lock_times_out_the_next_one(brv: Path) -> None:
    # The in-process lock used to be taken without a timeout: the second store
    # waited for as long as the slow update ran, whatever its lock_timeout said.
    inside, release = threading.Event(), threading.Event()

    def slow(document: dict[str, Any]) -> dict[str, Any]:
        inside.set()
        release.wait(timeout=10)  # bounded, should the test fail
        return {**document, "slow": True}

    writer = threading.Thread(target=FilePinStore(brv).update, args=(slow,))
    writer.start()
    try:
        assert inside.wait(timeout=10)
        impatient = FilePinStore(brv, lock_timeout=0.2)
        with pytest.raises(PinStoreError, match=r"timed out .* waiting for the lock") as caught:
            impatient.set_pinned_team_id("team-1")
        assert "another thread of this process" in str(caught.value)
    finally:
        release.set()
        writer.join(timeout=30)
    impatient.set_pinned_team_id("team-1")
    assert read_json(brv) == {"slow": True, "billing": {"pinnedTeamId": "team-1"}}


# -- concurrency ----------------------------------------------------------------------------


def increment(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "counter": doc.get("counter", 0) + 1}


def test_threads_never_lose_an_update(brv: Path) -> None:
    shared = FilePinStore(brv)
    stores = [shared, shared, FilePinStore(brv), FilePinStore(brv)]
    start = threading.Barrier(len(stores))

    def work(store: FilePinStore) -> None:
        start.wait()
        for _ in range(25):
            store.update(increment)

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert read_json(brv) == {"counter": 100}
    assert stray_files(brv) == []


def run_children(tmp_path: Path, brv: Path, commands: list[list[str]]) -> list[str]:
    """Start the child processes together; return each one's stderr (all must exit 0)."""
    control = tmp_path / "control"
    control.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path])}
    children = [
        subprocess.Popen(
            [sys.executable, str(WRITER_SCRIPT), mode, str(brv), str(control), name, *rest],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode, name, *rest in commands
    ]
    deadline = time.monotonic() + 30
    while len(list(control.glob("ready-*"))) < len(children):
        assert time.monotonic() < deadline, "children did not start"
        assert all(child.poll() is None for child in children), "a child died at start"
        time.sleep(0.005)
    (control / "go").touch()
    writers = [c for c, (mode, *_) in zip(children, commands, strict=True) if mode != "read"]
    for child in writers:
        child.wait(timeout=60)
    (control / "stop").touch()
    errors = [child.communicate(timeout=60)[1] for child in children]
    assert [child.returncode for child in children] == [0] * len(children), errors
    return errors


def test_processes_never_lose_an_update_nor_tear_the_file(brv: Path, tmp_path: Path) -> None:
    write_raw(brv, b'{"keep": {"nested": [1, 2, {"x": null}]}, "billing": {"other": 1}}')
    rounds = 15
    names = [f"w{i}" for i in range(3)]
    run_children(
        tmp_path,
        brv,
        [["pins", name, str(rounds)] for name in names] + [["read", "reader"]],
    )
    doc = read_json(brv)
    assert doc["keep"] == {"nested": [1, 2, {"x": None}]}
    assert doc["billing"]["other"] == 1
    assert doc["billing"]["pinnedTeamId"] in {f"{name}-{rounds - 1}" for name in names}
    assert {name: doc[name] for name in names} == dict.fromkeys(names, rounds - 1)
    assert sorted(os.listdir(brv)) == [PIN_FILE_NAME, PIN_FILE_NAME + ".lock"]


def test_processes_counting_through_update_end_at_the_exact_total(
    brv: Path, tmp_path: Path
) -> None:
    processes, rounds = 4, 25
    run_children(tmp_path, brv, [["count", f"c{i}", str(rounds)] for i in range(processes)])
    assert read_json(brv) == {"counter": processes * rounds}
    assert stray_files(brv) == []


# -- a project's root, never mistaken for its .brv directory ------------------------------


def test_for_project_uses_the_projects_brv_directory(tmp_path: Path) -> None:
    store = FilePinStore.for_project(tmp_path)
    assert store.directory == tmp_path / ".brv"
    store.set_pinned_team_id("team-1")
    assert read_json(tmp_path / ".brv")["billing"] == {"pinnedTeamId": "team-1"}


@pytest.mark.parametrize("name", ["project", "brv", ".brv-old", "x.brv"])
def test_a_directory_not_named_brv_is_refused_loudly(tmp_path: Path, name: str) -> None:
    # Given a project's root, the store would write a pin file no reader looks at.
    with pytest.raises(BillingConfigError, match=r"FilePinStore\.for_project"):
        FilePinStore(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_for_project_refuses_a_brv_directory(tmp_path: Path) -> None:
    with pytest.raises(BillingConfigError, match=r"is a \.brv directory, not a project"):
        FilePinStore.for_project(tmp_path / ".brv")
    with pytest.raises(BillingConfigError, match="absolute path"):
        FilePinStore.for_project("relative/project")
