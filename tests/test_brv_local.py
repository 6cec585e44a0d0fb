"""The brv CLI's files and settings, read-only: directories, login, provider, endpoints, project.

Login files are written here in brv's format with ``cryptography``. No test
prints the session key, the access token or the refresh token: every repr,
str, problem, log record and captured output is checked for them, and
comparisons with them happen outside ``assert`` (whose failure report would
show both sides).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _brv_files import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    SECRETS,
    SESSION_KEY,
    login_document,
    write_login,
)

import billing_core as bc
from billing_core.adapters.brv_endpoints import (
    DEFAULT_BILLING_BASE_URL,
    DEFAULT_IAM_BASE_URL,
    DEFAULT_WEB_APP_URL,
)
from billing_core.adapters.brv_local import brv_config_dir, brv_data_dir
from billing_core.adapters.brv_login import (
    CREDENTIALS_FILE,
    KEY_FILE,
    PROBLEM_PREFIX,
    SESSION_EXPIRED,
)
from billing_core.adapters.brv_providers import check_provider_spelling

BEFORE = datetime(2026, 6, 1, tzinfo=UTC)
AFTER = datetime(2027, 1, 1, tzinfo=UTC)


def assert_no_secret(*texts: object) -> None:
    """None of ``texts`` (or their str and repr) contains a secret; the report never shows one."""
    __tracebackhide__ = True  # the report would show the arguments, secrets and all
    for text in texts:
        for shown in (str(text), repr(text)):
            leaked = [index for index, secret in enumerate(SECRETS) if secret in shown]
            assert not leaked, f"secret number {leaked} leaked into a {type(text).__name__}"


@pytest.fixture(autouse=True)
def _nothing_printed_or_logged_holds_a_secret(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    captured = capsys.readouterr()
    assert_no_secret(captured.out, captured.err, caplog.text)


# --- writing a login as brv does -----------------------------------------------------------


def problem_of(directory: Path) -> str:
    """The problem reading ``directory``'s login reports (there must be one, and no login)."""
    read = bc.load_brv_login(data_dir=directory)
    assert_no_secret(read, read.problem)
    assert read.login is None
    assert read.problem is not None
    assert read.problem.startswith(PROBLEM_PREFIX)
    return read.problem


# --- directories ---------------------------------------------------------------------------

HOME = "/home/ada"
WINDOWS_HOME = r"C:\Users\ada"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "/home/ada/.local/share/brv"),
        ({"XDG_DATA_HOME": "/xdg/data"}, "/xdg/data/brv"),
        # The XDG specification: empty and relative values are ignored (brv would
        # use "brv" or "rel/brv", relative to wherever it runs).
        ({"XDG_DATA_HOME": ""}, "/home/ada/.local/share/brv"),
        ({"XDG_DATA_HOME": "relative/data"}, "/home/ada/.local/share/brv"),
        ({"BRV_DATA_DIR": "/custom/brv-data", "XDG_DATA_HOME": "/xdg"}, "/custom/brv-data"),
        ({"BRV_DATA_DIR": ""}, "/home/ada/.local/share/brv"),
        ({"XDG_CONFIG_HOME": "/xdg/config"}, "/home/ada/.local/share/brv"),
    ],
)
def test_the_linux_data_dir(environ: dict[str, str], expected: str) -> None:
    assert str(brv_data_dir(environ=environ, platform="linux", home=HOME)) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "/home/ada/.config/brv"),
        ({"XDG_CONFIG_HOME": "/xdg/config"}, "/xdg/config/brv"),
        ({"XDG_CONFIG_HOME": ""}, "/home/ada/.config/brv"),
        ({"XDG_CONFIG_HOME": "config"}, "/home/ada/.config/brv"),
        ({"BRV_DATA_DIR": "/custom", "XDG_DATA_HOME": "/xdg/data"}, "/home/ada/.config/brv"),
    ],
)
def test_the_linux_config_dir(environ: dict[str, str], expected: str) -> None:
    assert str(brv_config_dir(environ=environ, platform="linux", home=HOME)) == expected


def test_macos_keeps_both_in_application_support_and_ignores_xdg() -> None:
    environ = {"XDG_DATA_HOME": "/xdg/data", "XDG_CONFIG_HOME": "/xdg/config"}
    expected = "/Users/ada/Library/Application Support/brv"
    assert str(brv_data_dir(environ=environ, platform="darwin", home="/Users/ada")) == expected
    assert str(brv_config_dir(environ=environ, platform="darwin", home="/Users/ada")) == expected
    overridden = brv_data_dir(environ={"BRV_DATA_DIR": "/d"}, platform="darwin", home="/Users/ada")
    assert str(overridden) == "/d"


@pytest.mark.parametrize(
    ("environ", "data", "config"),
    [
        (
            {
                "LOCALAPPDATA": r"D:\Profiles\ada\Local",
                "APPDATA": r"D:\Profiles\ada\Roaming",
            },
            r"D:\Profiles\ada\Local\brv",
            r"D:\Profiles\ada\Roaming\brv",
        ),
        ({}, r"C:\Users\ada\AppData\Local\brv", r"C:\Users\ada\AppData\Roaming\brv"),
        (
            {"LOCALAPPDATA": "", "APPDATA": "", "XDG_DATA_HOME": "/xdg"},
            r"C:\Users\ada\AppData\Local\brv",
            r"C:\Users\ada\AppData\Roaming\brv",
        ),
        (
            {"BRV_DATA_DIR": r"E:\brv-data", "LOCALAPPDATA": r"D:\Local"},
            r"E:\brv-data",
            r"C:\Users\ada\AppData\Roaming\brv",
        ),
    ],
)
def test_the_windows_dirs(environ: dict[str, str], data: str, config: str) -> None:
    assert str(brv_data_dir(environ=environ, platform="win32", home=WINDOWS_HOME)) == data
    assert str(brv_config_dir(environ=environ, platform="win32", home=WINDOWS_HOME)) == config


def test_other_unixes_ignore_xdg_as_brv_does() -> None:
    environ = {"XDG_DATA_HOME": "/xdg/data", "XDG_CONFIG_HOME": "/xdg/config"}
    data = brv_data_dir(environ=environ, platform="freebsd14", home=HOME)
    assert str(data) == "/home/ada/.local/share/brv"
    assert str(brv_config_dir(environ=environ, platform="freebsd14", home=HOME)) == (
        "/home/ada/.config/brv"
    )


def test_the_defaults_are_this_process_environment_and_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BRV_DATA_DIR", str(tmp_path / "data"))
    assert brv_data_dir() == tmp_path / "data"
    monkeypatch.delenv("BRV_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    if sys.platform.startswith("linux"):
        assert brv_data_dir() == tmp_path / ".local" / "share" / "brv"


# --- the login -----------------------------------------------------------------------------


def test_a_valid_login_is_read(tmp_path: Path) -> None:
    write_login(tmp_path)
    read = bc.load_brv_login(data_dir=tmp_path)
    login = read.login
    assert login is not None
    assert read.problem is None
    same_key = login.session_key == SESSION_KEY
    assert same_key, "the session key read is not the one written"
    assert login.user_email == "ada@example.com"
    assert (login.user_id, login.user_name) == ("user-1", "Ada")
    assert login.expires_at == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert not login.is_expired(BEFORE)
    assert read.as_of(BEFORE) is read
    # Compared outside assert: a failing == of two logins would show both keys.
    same_login = bc.read_brv_login(data_dir=tmp_path) == login
    assert same_login, "read_brv_login does not return load_brv_login's login"
    assert_no_secret(read, login, read.as_of(BEFORE))


def test_the_access_and_refresh_tokens_are_not_kept(tmp_path: Path) -> None:
    write_login(tmp_path)
    login = bc.read_brv_login(data_dir=tmp_path)
    assert login is not None
    for name in type(login).__attrs_attrs__:
        value = getattr(login, name.name)
        holds_a_token = value in (ACCESS_TOKEN, REFRESH_TOKEN)
        assert not holds_a_token, f"{name.name} holds a token"


def test_user_name_and_token_type_are_optional(tmp_path: Path) -> None:
    write_login(tmp_path, login_document(userName=..., tokenType=...))
    login = bc.read_brv_login(data_dir=tmp_path)
    assert login is not None
    assert login.user_name is None
    write_login(tmp_path, login_document(userName=None))
    login = bc.read_brv_login(data_dir=tmp_path)
    assert login is not None
    assert login.user_name is None


def test_an_expired_login_is_returned_and_as_of_turns_it_into_brv_login(tmp_path: Path) -> None:
    write_login(tmp_path, login_document(expiresAt="2020-01-01T00:00:00.000Z"))
    read = bc.load_brv_login(data_dir=tmp_path)
    assert read.login is not None
    assert read.login.is_expired()  # now, by the clock
    assert read.login.is_expired(BEFORE)
    now = read.as_of(BEFORE)
    assert now == bc.BrvLoginRead(None, SESSION_EXPIRED)
    assert now.problem == "the session expired: run `brv login`"
    assert_no_secret(read, now)


def test_a_session_ends_at_its_expiry_instant(tmp_path: Path) -> None:
    write_login(tmp_path, login_document(expiresAt="2026-12-31T23:59:59+02:00"))
    login = bc.read_brv_login(data_dir=tmp_path)
    assert login is not None
    assert login.expires_at == datetime(2026, 12, 31, 21, 59, 59, tzinfo=UTC)
    assert login.is_expired(login.expires_at)
    assert not login.is_expired(login.expires_at - timedelta(microseconds=1))


def test_is_expired_needs_an_aware_time(tmp_path: Path) -> None:
    write_login(tmp_path)
    login = bc.read_brv_login(data_dir=tmp_path)
    assert login is not None
    with pytest.raises(ValueError, match="time zone"):
        login.is_expired(datetime(2026, 1, 1))  # naive on purpose


@pytest.mark.parametrize(
    ("files", "label"),
    [((), "none"), ((KEY_FILE,), "key only"), ((CREDENTIALS_FILE,), "credentials only")],
)
def test_missing_files_are_no_login_and_no_problem(
    tmp_path: Path, files: tuple[str, ...], label: str
) -> None:
    write_login(tmp_path / "full")
    for name in files:
        (tmp_path / name).write_bytes((tmp_path / "full" / name).read_bytes())
    assert bc.load_brv_login(data_dir=tmp_path) == bc.BrvLoginRead(None, None), label


def test_a_missing_data_dir_is_no_login(tmp_path: Path) -> None:
    assert bc.load_brv_login(data_dir=tmp_path / "nowhere") == bc.BrvLoginRead(None)
    assert bc.read_brv_login(data_dir=tmp_path / "nowhere") is None


def test_one_missing_file_wins_over_the_other_being_unreadable(tmp_path: Path) -> None:
    (tmp_path / CREDENTIALS_FILE).mkdir()  # unreadable, but the key is missing: brv's order
    assert bc.load_brv_login(data_dir=tmp_path) == bc.BrvLoginRead(None)


def test_the_wrong_key_is_a_problem(tmp_path: Path) -> None:
    write_login(tmp_path)
    (tmp_path / KEY_FILE).write_bytes(os.urandom(32))
    assert "does not decrypt with the key" in problem_of(tmp_path)


def test_a_flipped_tag_byte_is_a_problem(tmp_path: Path) -> None:
    write_login(tmp_path)
    iv, tag, ciphertext = (tmp_path / CREDENTIALS_FILE).read_text().split(":")
    flipped = bytearray(base64.b64decode(tag))
    flipped[7] ^= 0x01
    changed = ":".join([iv, base64.b64encode(bytes(flipped)).decode(), ciphertext])
    (tmp_path / CREDENTIALS_FILE).write_text(changed)
    assert "does not decrypt with the key" in problem_of(tmp_path)


def test_a_flipped_ciphertext_byte_is_a_problem(tmp_path: Path) -> None:
    write_login(tmp_path)
    iv, tag, ciphertext = (tmp_path / CREDENTIALS_FILE).read_text().split(":")
    flipped = bytearray(base64.b64decode(ciphertext))
    flipped[0] ^= 0x80
    changed = ":".join([iv, tag, base64.b64encode(bytes(flipped)).decode()])
    (tmp_path / CREDENTIALS_FILE).write_text(changed)
    assert "does not decrypt" in problem_of(tmp_path)


@pytest.mark.parametrize("keep", [0, 10, 30, 40, 60, -4, -1])
def test_truncated_credentials_are_a_problem(tmp_path: Path, keep: int) -> None:
    write_login(tmp_path)
    text = (tmp_path / CREDENTIALS_FILE).read_text()
    (tmp_path / CREDENTIALS_FILE).write_text(text[:keep])
    problem = problem_of(tmp_path)
    assert "is not in the iv:tag:ciphertext form" in problem or "does not decrypt" in problem


def test_ciphertext_cut_at_a_block_boundary_is_a_problem(tmp_path: Path) -> None:
    write_login(tmp_path)
    iv, tag, ciphertext = (tmp_path / CREDENTIALS_FILE).read_text().split(":")
    shorter = base64.b64encode(base64.b64decode(ciphertext)[:-3]).decode()
    (tmp_path / CREDENTIALS_FILE).write_text(":".join([iv, tag, shorter]))
    assert "does not decrypt" in problem_of(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "not the credentials",
        "a:b",
        "a:b:c:d",
        "!!!!:????:****",
        "é:é:é",
        # A 12-byte IV and an 8-byte tag: valid base64, not brv's sizes.
        base64.b64encode(b"x" * 12).decode() + ":" + base64.b64encode(b"t" * 16).decode() + ":AA==",
        base64.b64encode(b"x" * 16).decode() + ":" + base64.b64encode(b"t" * 8).decode() + ":AA==",
    ],
)
def test_garbled_credentials_are_a_problem(tmp_path: Path, text: str) -> None:
    write_login(tmp_path)
    (tmp_path / CREDENTIALS_FILE).write_text(text)
    assert "is not in the iv:tag:ciphertext form brv writes" in problem_of(tmp_path)


def test_surrounding_whitespace_is_trimmed_as_brv_does(tmp_path: Path) -> None:
    write_login(tmp_path)
    text = (tmp_path / CREDENTIALS_FILE).read_text()
    (tmp_path / CREDENTIALS_FILE).write_text(f"\n {text}\r\n")
    assert bc.read_brv_login(data_dir=tmp_path) is not None


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_key_that_is_not_32_bytes_is_a_problem(tmp_path: Path, size: int) -> None:
    write_login(tmp_path)
    (tmp_path / KEY_FILE).write_bytes(os.urandom(size))
    assert "does not hold a 32-byte key" in problem_of(tmp_path)


REQUIRED = ["accessToken", "expiresAt", "refreshToken", "sessionKey", "userEmail", "userId"]


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_field_is_a_problem(tmp_path: Path, name: str) -> None:
    write_login(tmp_path, login_document(**{name: ...}))
    assert problem_of(tmp_path).endswith(f"the login has no {name}")


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("value", ["", None])
def test_an_empty_field_is_a_problem(tmp_path: Path, name: str, value: object) -> None:
    write_login(tmp_path, login_document(**{name: value}))
    assert problem_of(tmp_path).endswith(f"the login has no {name}")


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("value", [42, True, ["x"], {"x": 1}])
def test_a_field_that_is_not_a_string_is_a_problem(
    tmp_path: Path, name: str, value: object
) -> None:
    write_login(tmp_path, login_document(**{name: value}))
    assert f"the login's {name} is " in problem_of(tmp_path)


@pytest.mark.parametrize(
    "expires_at",
    [
        "soon",
        "2026-13-01T00:00:00Z",
        "2026-12-31T23:59:59",  # no offset: brv always writes one
        "2026-12-31",
        "9999-12-31T23:00:00-05:00",  # the year 10000 in UTC
    ],
)
def test_a_bad_expiry_is_a_problem(tmp_path: Path, expires_at: str) -> None:
    write_login(tmp_path, login_document(expiresAt=expires_at))
    problem = problem_of(tmp_path)
    assert "expiresAt is not an ISO 8601 date and time with a UTC offset" in problem
    assert expires_at not in problem


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"not json", "the decrypted login is not JSON"),
        (b"\xff\xfe{}", "the decrypted login is not JSON"),
        (b'{"sessionKey": NaN}', "the decrypted login is not JSON"),
        (b"[1, 2]", "the decrypted login is an array, not a JSON object"),
        (b"null", "the decrypted login is null, not a JSON object"),
    ],
)
def test_a_plaintext_that_is_not_a_json_object_is_a_problem(
    tmp_path: Path, plaintext: bytes, reason: str
) -> None:
    write_login(tmp_path, plaintext=plaintext)
    assert problem_of(tmp_path).endswith(reason)


@pytest.mark.parametrize(
    ("session_key", "flaw"),
    [
        (SESSION_KEY + "\r\nX-Injected: 1", "contains control characters"),
        (" " + SESSION_KEY, "has leading or trailing whitespace"),
    ],
)
def test_a_session_key_no_header_can_carry_is_a_problem(
    tmp_path: Path, session_key: str, flaw: str
) -> None:
    write_login(tmp_path, login_document(sessionKey=session_key))
    assert problem_of(tmp_path).endswith(f"the login's sessionKey {flaw}")


def test_a_directory_in_place_of_a_file_is_a_problem(tmp_path: Path) -> None:
    write_login(tmp_path)
    (tmp_path / CREDENTIALS_FILE).unlink()
    (tmp_path / CREDENTIALS_FILE).mkdir()
    reason = f"{tmp_path / CREDENTIALS_FILE} is a directory, not a regular file"
    assert problem_of(tmp_path) == PROBLEM_PREFIX + reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", [KEY_FILE, CREDENTIALS_FILE])
def test_a_fifo_in_place_of_a_file_is_refused_without_waiting(tmp_path: Path, name: str) -> None:
    write_login(tmp_path)
    (tmp_path / name).unlink()
    os.mkfifo(tmp_path / name)
    assert problem_of(tmp_path).endswith("is a FIFO, not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.timeout(20)
def test_a_link_to_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    write_login(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / KEY_FILE).unlink()
    (tmp_path / KEY_FILE).symlink_to(tmp_path / "fifo")
    assert problem_of(tmp_path).endswith("is a FIFO, not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.timeout(20)
def test_a_link_to_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    write_login(tmp_path)
    (tmp_path / CREDENTIALS_FILE).unlink()
    (tmp_path / CREDENTIALS_FILE).symlink_to("/dev/zero")
    assert problem_of(tmp_path).endswith("is a character device, not a regular file")


def test_a_link_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    # The data directory is the user's own: dotfile managers link files into it.
    write_login(tmp_path / "real")
    (tmp_path / "linked").mkdir()
    for name in (KEY_FILE, CREDENTIALS_FILE):
        (tmp_path / "linked" / name).symlink_to(tmp_path / "real" / name)
    assert bc.read_brv_login(data_dir=tmp_path / "linked") is not None


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_is_a_problem(tmp_path: Path) -> None:
    write_login(tmp_path)
    (tmp_path / CREDENTIALS_FILE).chmod(0)
    try:
        assert "cannot be read (Permission denied)" in problem_of(tmp_path)
    finally:
        (tmp_path / CREDENTIALS_FILE).chmod(0o600)


def test_credentials_larger_than_the_bound_are_refused(tmp_path: Path) -> None:
    write_login(tmp_path)
    with (tmp_path / CREDENTIALS_FILE).open("a") as file:
        file.write(" " * (64 * 1024))
    assert problem_of(tmp_path).endswith("is larger than 65,536 bytes")


def test_read_brv_login_logs_the_problem_and_returns_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_login(tmp_path)
    (tmp_path / KEY_FILE).write_bytes(os.urandom(32))
    assert bc.read_brv_login(data_dir=tmp_path) is None
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert caplog.records[0].getMessage().startswith(PROBLEM_PREFIX)


def test_the_login_is_read_from_brv_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_login(tmp_path / "brv-data")
    monkeypatch.setenv("BRV_DATA_DIR", str(tmp_path / "brv-data"))
    assert bc.read_brv_login() is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG applies on Linux only")
def test_the_login_is_read_from_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_login(tmp_path / "xdg" / "brv")
    monkeypatch.delenv("BRV_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert bc.read_brv_login() is not None


def test_the_files_are_never_written(tmp_path: Path) -> None:
    write_login(tmp_path)
    for _ in range(2):
        before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
        bc.load_brv_login(data_dir=tmp_path)
        assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
        (tmp_path / KEY_FILE).write_bytes(os.urandom(32))  # a bad login is not "repaired" either


def test_a_login_keeps_its_session_key_out_of_messages() -> None:
    with pytest.raises(ValueError, match="session_key must be a non-empty string") as caught:
        bc.BrvLogin(
            session_key="",
            user_email="a@example.com",
            user_id="u",
            expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    assert_no_secret(caught.value)
    with pytest.raises(ValueError, match="time zone"):
        bc.BrvLogin(
            session_key=SESSION_KEY,
            user_email="a@example.com",
            user_id="u",
            expires_at=datetime(2026, 1, 1),  # naive on purpose
        )
    login = bc.BrvLogin(
        session_key=SESSION_KEY,
        user_email="a@example.com",
        user_id="u",
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert_no_secret(login, bc.BrvLoginRead(login), f"{login}", f"{login!r}")


def test_a_read_has_a_login_or_a_problem_not_both(tmp_path: Path) -> None:
    write_login(tmp_path)
    login = bc.read_brv_login(data_dir=tmp_path)
    with pytest.raises(ValueError, match="either a login or a problem"):
        bc.BrvLoginRead(login, "a problem")


# --- what importing loads ------------------------------------------------------------------


def test_importing_billing_core_loads_neither_cryptography_nor_httpx(tmp_path: Path) -> None:
    write_login(tmp_path)
    code = (
        "import sys, billing_core as bc\n"
        "names = [bc.read_brv_login, bc.load_brv_login, bc.BrvLogin, bc.BrvLoginRead,\n"
        "         bc.read_active_provider, bc.brv_endpoints, bc.BrvEndpoints,\n"
        "         bc.find_brv_project, bc.BrvProject]\n"
        "heavy = lambda: sorted(m for m in ('cryptography', 'httpx') if m in sys.modules)\n"
        "assert heavy() == [], heavy()\n"
        f"assert bc.load_brv_login(data_dir={str(tmp_path / 'none')!r}).login is None\n"
        "assert heavy() == [], 'no login to decrypt, yet: ' + str(heavy())\n"
        f"assert bc.load_brv_login(data_dir={str(tmp_path)!r}).login is not None\n"
        "assert heavy() == ['cryptography'], heavy()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_no_secret(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr


# --- the active provider -------------------------------------------------------------------


def write_providers(directory: Path, content: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (directory / "providers.json").write_text(text, encoding="utf-8")


def test_the_active_provider_is_read(tmp_path: Path) -> None:
    write_providers(tmp_path, {"activeProvider": "byterover", "providers": {"byterover": {}}})
    assert bc.read_active_provider(config_dir=tmp_path) == "byterover"
    write_providers(tmp_path, {"activeProvider": "openai", "providers": {}})
    assert bc.read_active_provider(config_dir=tmp_path) == "openai"


def test_no_provider_connected_is_the_empty_string(tmp_path: Path) -> None:
    write_providers(tmp_path, {"activeProvider": "", "providers": {}})
    assert bc.read_active_provider(config_dir=tmp_path) == ""


def test_a_missing_file_is_brvs_default_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert bc.read_active_provider(config_dir=tmp_path) == ""
    assert bc.read_active_provider(config_dir=tmp_path / "missing") == ""
    assert caplog.records == []


@pytest.mark.parametrize(
    "content",
    [
        {"providers": {}},
        {"activeProvider": "byterover"},
        {"activeProvider": 1, "providers": {}},
        {"activeProvider": None, "providers": {}},
        {"activeProvider": "byterover", "providers": None},
        {"activeProvider": "byterover", "providers": "byterover"},
        ["byterover"],
        "byterover",
        "{not json",
        "",
        '\ufeff{"activeProvider": "byterover", "providers": {}}',  # JSON.parse refuses a BOM
        '{"activeProvider": "byterover", "providers": {}, "x": NaN}',
    ],
)
def test_an_unusable_file_is_brvs_default_with_a_warning(
    tmp_path: Path, content: object, caplog: pytest.LogCaptureFixture
) -> None:
    write_providers(tmp_path, content)
    assert bc.read_active_provider(config_dir=tmp_path) == ""
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "no provider connected" in caplog.records[0].getMessage()
    # The reason, without the log, for a caller that shows it itself.
    read = bc.load_active_provider(config_dir=tmp_path)
    assert read.provider == ""
    assert read.problem is not None
    assert read.problem.startswith(str(tmp_path / "providers.json"))


def test_an_array_of_providers_passes_as_in_brv(tmp_path: Path) -> None:
    # brv checks `typeof providers === "object"`, which an array passes.
    write_providers(tmp_path, {"activeProvider": "byterover", "providers": []})
    assert bc.read_active_provider(config_dir=tmp_path) == "byterover"


def test_the_value_is_returned_as_written(tmp_path: Path) -> None:
    write_providers(tmp_path, {"activeProvider": " ByteRover", "providers": {}})
    assert bc.read_active_provider(config_dir=tmp_path) == " ByteRover"


@pytest.mark.timeout(20)
def test_a_directory_or_fifo_in_place_of_the_file_is_brvs_default(tmp_path: Path) -> None:
    (tmp_path / "providers.json").mkdir()
    assert bc.read_active_provider(config_dir=tmp_path) == ""
    if hasattr(os, "mkfifo"):
        fifo_dir = tmp_path / "f"
        fifo_dir.mkdir()
        os.mkfifo(fifo_dir / "providers.json")
        assert bc.read_active_provider(config_dir=fifo_dir) == ""


def test_a_huge_file_is_brvs_default(tmp_path: Path) -> None:
    write_providers(tmp_path, {"activeProvider": "byterover", "providers": {"x": "y" * 300_000}})
    assert bc.read_active_provider(config_dir=tmp_path) == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG applies on Linux only")
def test_the_config_dir_follows_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_providers(tmp_path / "brv", {"activeProvider": "byterover", "providers": {}})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert bc.read_active_provider() == "byterover"


@pytest.mark.parametrize(
    "value", ["byterover", "openai", "", "byte rover", "byterover2", "anthropic "]
)
def test_other_spellings_pass(value: str) -> None:
    assert check_provider_spelling(value) is None


@pytest.mark.parametrize(
    "value", ["ByteRover", "BYTEROVER", " byterover", "byterover\n", "\tByteRover  "]
)
def test_a_misspelt_byterover_is_refused_naming_the_right_spelling(value: str) -> None:
    message = check_provider_spelling(value)
    assert message is not None
    assert "'byterover'" in message
    assert repr(value) in message


# --- the endpoints -------------------------------------------------------------------------


def test_the_endpoints_default_to_brvs_production_hosts() -> None:
    assert bc.brv_endpoints({}) == bc.BrvEndpoints(
        billing_api_url="https://v3-billing.byterover.dev/api/v1",
        iam_api_url="https://iam.byterover.dev/api/v1",
        web_app_url="https://app.byterover.dev",
    )
    assert (DEFAULT_BILLING_BASE_URL, DEFAULT_IAM_BASE_URL, DEFAULT_WEB_APP_URL) == (
        "https://v3-billing.byterover.dev",
        "https://iam.byterover.dev",
        "https://app.byterover.dev",
    )


def test_root_domains_get_the_api_path() -> None:
    endpoints = bc.brv_endpoints(
        {
            "BRV_BILLING_BASE_URL": "https://billing.example.com",
            "BRV_IAM_BASE_URL": "http://127.0.0.1:8081",
            "BRV_WEB_APP_URL": "https://app.example.com",
        }
    )
    assert endpoints == bc.BrvEndpoints(
        billing_api_url="https://billing.example.com/api/v1",
        iam_api_url="http://127.0.0.1:8081/api/v1",
        web_app_url="https://app.example.com",
    )


@pytest.mark.parametrize(
    "value",
    [
        "https://billing.example.com/",
        "https://billing.example.com///",
        "  https://billing.example.com/ \n",
    ],
)
def test_trailing_slashes_and_whitespace_are_dropped(value: str) -> None:
    endpoints = bc.brv_endpoints({"BRV_BILLING_BASE_URL": value, "BRV_WEB_APP_URL": value})
    assert endpoints.billing_api_url == "https://billing.example.com/api/v1"
    assert endpoints.web_app_url == "https://billing.example.com"


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_an_empty_value_is_unset(value: str) -> None:
    environ = dict.fromkeys(("BRV_BILLING_BASE_URL", "BRV_IAM_BASE_URL", "BRV_WEB_APP_URL"), value)
    assert bc.brv_endpoints(environ) == bc.brv_endpoints({})


@pytest.mark.parametrize("name", ["BRV_BILLING_BASE_URL", "BRV_IAM_BASE_URL"])
@pytest.mark.parametrize(
    "value", ["https://example.com/api/v1", "https://example.com/api/v1/", "https://example.com/x"]
)
def test_a_path_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(bc.BillingConfigError) as caught:
        bc.brv_endpoints({name: value})
    assert str(caught.value) == (
        f"{name} must not include a path component."
        " Provide the root domain only (e.g. https://example.com)."
    )


def test_the_web_app_url_may_have_a_path() -> None:
    endpoints = bc.brv_endpoints({"BRV_WEB_APP_URL": "https://example.com/app/"})
    assert endpoints.web_app_url == "https://example.com/app"


@pytest.mark.parametrize("name", ["BRV_BILLING_BASE_URL", "BRV_IAM_BASE_URL", "BRV_WEB_APP_URL"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("example.com", "must be an absolute http:// or https:// URL"),
        ("ftp://example.com", "must be an absolute http:// or https:// URL"),
        ("https://", "must be an absolute http:// or https:// URL"),
        ("https://example.com?x=1", "must not include a query or a fragment"),
        ("https://example.com/#top", "must not include a query or a fragment"),
        ("https://example.com?", "must not include a query or a fragment"),
        ("https://exa mple.com", "must not contain spaces or control characters"),
        ("https://example.com:99999", "is not a valid URL"),
        ("https://[::1", "is not a valid URL"),
    ],
)
def test_unusable_urls_are_refused_naming_the_variable(name: str, value: str, reason: str) -> None:
    with pytest.raises(bc.BillingConfigError, match=f"^{name} {reason}"):
        bc.brv_endpoints({name: value})


def test_credentials_in_a_url_are_refused_and_never_quoted() -> None:
    with pytest.raises(bc.BillingConfigError) as caught:
        bc.brv_endpoints({"BRV_BILLING_BASE_URL": f"https://ada:{SESSION_KEY}@example.com"})
    assert str(caught.value) == "BRV_BILLING_BASE_URL must not contain credentials."


def test_the_endpoints_default_to_this_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRV_BILLING_BASE_URL", "http://localhost:9000/")
    monkeypatch.delenv("BRV_IAM_BASE_URL", raising=False)
    endpoints = bc.brv_endpoints()
    assert endpoints.billing_api_url == "http://localhost:9000/api/v1"
    assert endpoints.iam_api_url == "https://iam.byterover.dev/api/v1"


# --- the project ---------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A resolved temporary directory, as the finder returns paths."""
    return tmp_path.resolve()


def make_project(directory: Path, *, config: bool = False) -> Path:
    (directory / ".brv").mkdir(parents=True)
    if config:
        (directory / ".brv" / "config.json").write_text("{}")
    return directory


def write_pointer(worktree: Path, content: object) -> Path:
    worktree.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content, indent=2) + "\n"
    (worktree / ".brv").write_text(text)
    return worktree / ".brv"


def test_a_project_is_found_from_a_subdirectory(root: Path) -> None:
    project = make_project(root / "project", config=True)
    (project / "src" / "pkg").mkdir(parents=True)
    found = bc.find_brv_project(project / "src" / "pkg")
    assert found == bc.BrvProject(root=project, source="direct", worktree_root=project)
    assert found.brv_dir == project / ".brv"
    assert bc.find_brv_project(project) == found


def test_a_brv_directory_without_config_json_counts(root: Path) -> None:
    project = make_project(root / "project")
    (project / "sub").mkdir()
    assert bc.find_brv_project(project / "sub").root == project


def test_the_first_brv_wins(root: Path) -> None:
    outer = make_project(root / "outer", config=True)
    inner = make_project(outer / "packages" / "inner")
    (inner / "src").mkdir()
    assert bc.find_brv_project(inner / "src").root == inner
    assert bc.find_brv_project(outer / "packages").root == outer


def test_a_worktree_pointer_is_followed(root: Path) -> None:
    project = make_project(root / "project", config=True)
    worktree = root / "worktrees" / "feature"
    write_pointer(worktree, {"projectRoot": str(project)})
    (worktree / "src").mkdir()
    expected = bc.BrvProject(root=project, source="linked", worktree_root=worktree)
    assert bc.find_brv_project(worktree / "src") == expected
    assert bc.find_brv_project(worktree) == expected


def test_a_pointer_inside_the_project_wins_over_the_project(root: Path) -> None:
    project = make_project(root / "project")
    worktree = project / ".worktrees" / "feature"
    write_pointer(worktree, {"projectRoot": str(project), "extra": [1, 2]})
    found = bc.find_brv_project(worktree)
    assert (found.root, found.source, found.worktree_root) == (project, "linked", worktree)


def test_a_relative_project_root_is_relative_to_the_pointer(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(root / "project")
    worktree = root / "worktrees" / "feature"
    write_pointer(worktree, {"projectRoot": "../../project"})
    monkeypatch.chdir(project)  # not what the path is relative to
    assert bc.find_brv_project(worktree).root == project


def test_the_pointer_target_is_resolved(root: Path) -> None:
    project = make_project(root / "project")
    (root / "alias").symlink_to(project)
    worktree = root / "wt"
    write_pointer(worktree, {"projectRoot": str(root / "alias")})
    assert bc.find_brv_project(worktree).root == project


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "it is not JSON"),
        ("", "it is not JSON"),
        ('["/somewhere"]', 'it has no "projectRoot" path'),
        ("null", 'it has no "projectRoot" path'),
        ({"root": "/somewhere"}, 'it has no "projectRoot" path'),
        ({"projectRoot": ""}, 'it has no "projectRoot" path'),
        ({"projectRoot": 42}, 'it has no "projectRoot" path'),
        ({"projectRoot": ["/somewhere"]}, 'it has no "projectRoot" path'),
        ("x" * (16 * 1024 + 1), "it is larger than 16,384 bytes"),
    ],
)
def test_a_malformed_pointer_is_a_clear_error(root: Path, content: object, reason: str) -> None:
    pointer = write_pointer(root / "wt", content)
    (root / "wt" / "src").mkdir()
    with pytest.raises(bc.BillingConfigError) as caught:
        bc.find_brv_project(root / "wt" / "src")
    message = str(caught.value)
    assert message.startswith(f"the worktree pointer {pointer} is malformed: {reason}.")
    assert f"`brv worktree remove` in {root / 'wt'}" in message
    assert "x" * 100 not in message


def test_a_pointer_to_a_directory_without_brv_is_a_clear_error(root: Path) -> None:
    (root / "not-a-project").mkdir()
    pointer = write_pointer(root / "wt", {"projectRoot": str(root / "not-a-project")})
    with pytest.raises(bc.BillingConfigError) as caught:
        bc.find_brv_project(root / "wt")
    assert str(caught.value) == (
        f"the worktree pointer {pointer} names {root / 'not-a-project'}, which has no .brv"
        f" directory. Run `brv worktree remove` in {root / 'wt'} to remove the pointer"
    )


def test_a_pointer_to_a_missing_directory_is_a_clear_error(root: Path) -> None:
    pointer = write_pointer(root / "wt", {"projectRoot": str(root / "gone")})
    with pytest.raises(bc.BillingConfigError, match="which does not exist") as caught:
        bc.find_brv_project(root / "wt")
    assert str(pointer) in str(caught.value)


def test_a_pointer_to_another_pointer_is_not_followed(root: Path) -> None:
    project = make_project(root / "project")
    write_pointer(root / "first", {"projectRoot": str(project)})
    write_pointer(root / "second", {"projectRoot": str(root / "first")})
    with pytest.raises(bc.BillingConfigError, match=r"which has no \.brv directory"):
        bc.find_brv_project(root / "second")
    write_pointer(root / "self", {"projectRoot": str(root / "self")})
    with pytest.raises(bc.BillingConfigError, match=r"which has no \.brv directory"):
        bc.find_brv_project(root / "self")


@pytest.mark.timeout(20)
def test_a_pointer_into_a_symlink_loop_is_an_error_not_a_hang(root: Path) -> None:
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    write_pointer(root / "wt", {"projectRoot": str(root / "a")})
    with pytest.raises(bc.BillingConfigError, match="which does not exist"):
        bc.find_brv_project(root / "wt")


def test_a_pointer_with_control_characters_is_escaped_in_the_message(root: Path) -> None:
    write_pointer(root / "wt", {"projectRoot": "/nowhere/\x1b[31mred"})
    with pytest.raises(bc.BillingConfigError) as caught:
        bc.find_brv_project(root / "wt")
    assert "\x1b" not in str(caught.value)
    assert "\\x1b" in str(caught.value)


@pytest.mark.timeout(20)
def test_a_brv_that_is_neither_directory_nor_file_is_refused(root: Path) -> None:
    project = make_project(root / "project")
    (root / "linked").mkdir()
    (root / "linked" / ".brv").symlink_to(project / ".brv")
    with pytest.raises(bc.BillingConfigError, match="is a symbolic link, neither"):
        bc.find_brv_project(root / "linked")
    if hasattr(os, "mkfifo"):
        (root / "fifo").mkdir()
        os.mkfifo(root / "fifo" / ".brv")
        with pytest.raises(bc.BillingConfigError, match="is a FIFO, neither"):
            bc.find_brv_project(root / "fifo")


def test_no_brv_anywhere_is_the_start_directory(root: Path) -> None:
    if any(os.path.lexists(parent / ".brv") for parent in root.parents):
        pytest.skip("a .brv above the temporary directory")
    (root / "plain" / "sub").mkdir(parents=True)
    start = root / "plain" / "sub"
    assert bc.find_brv_project(start) == bc.BrvProject(
        root=start, source="cwd", worktree_root=start
    )


def test_the_default_start_is_the_working_directory(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(root / "project")
    (project / "src").mkdir()
    monkeypatch.chdir(project / "src")
    assert bc.find_brv_project().root == project


def test_a_start_through_a_link_is_resolved(root: Path) -> None:
    project = make_project(root / "project")
    (root / "shortcut").symlink_to(project)
    found = bc.find_brv_project(root / "shortcut")
    assert (found.root, found.worktree_root) == (project, project)


def test_a_start_that_is_not_a_directory_is_refused(root: Path) -> None:
    (root / "file").write_text("")
    with pytest.raises(bc.BillingConfigError, match="is not a directory"):
        bc.find_brv_project(root / "file")
    with pytest.raises(bc.BillingConfigError, match="cannot be used"):
        bc.find_brv_project(root / "missing")


def test_nothing_is_written_while_finding(root: Path) -> None:
    project = make_project(root / "project")
    write_pointer(root / "wt", {"projectRoot": str(project)})
    before = sorted(str(path) for path in root.rglob("*"))
    bc.find_brv_project(root / "wt")
    bc.find_brv_project(project)
    assert sorted(str(path) for path in root.rglob("*")) == before
