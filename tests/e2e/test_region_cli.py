"""The maas-region command, run as a real process against a real database."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import Server, run_region_command
from tests.maasclient import RegionProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_url(pg_server: Server) -> str:
    url = pg_server.create_database("maascli")
    run_region_command(url, "migrate")
    return url


def test_migrate_is_idempotent(pg_server: Server) -> None:
    """A first migrate applies migrations; a second says there is nothing to do."""
    url = pg_server.create_database("maasmig")
    first = run_region_command(url, "migrate")
    assert "Applied migration 0001_foundation" in first.stdout
    second = run_region_command(url, "migrate")
    assert "up to date" in second.stdout


def test_commands_refuse_an_unmigrated_database(pg_server: Server) -> None:
    url = pg_server.create_database("maasraw")
    result = run_region_command(url, "apikey", "--username", "x", check=False)
    assert result.returncode != 0
    assert "maas-region migrate" in result.stderr


def test_createadmin_then_apikey(fresh_url: str) -> None:
    """createadmin makes an admin with one key; apikey prints, adds and deletes keys."""
    name = "admin-" + secrets.token_hex(3)
    created = run_region_command(fresh_url, "createadmin", "--username", name,
                                 "--password", "pw", "--email", "x@example.com")
    assert created.stdout == ""
    [key] = run_region_command(fresh_url, "apikey", "--username", name).stdout.split()
    assert [len(part) for part in key.split(":")] == [18, 18, 32]
    [added] = run_region_command(fresh_url, "apikey", "--username", name,
                                 "--generate").stdout.split()
    assert run_region_command(fresh_url, "apikey", "--username", name).stdout.split() == [
        key, added]
    run_region_command(fresh_url, "apikey", "--username", name, "--delete", key)
    assert run_region_command(fresh_url, "apikey", "--username", name).stdout.split() == [added]


def test_createadmin_refuses_a_duplicate(fresh_url: str) -> None:
    name = "dup-" + secrets.token_hex(3)
    run_region_command(fresh_url, "createadmin", "--username", name, "--password", "p",
                       "--email", "e@example.com")
    again = run_region_command(fresh_url, "createadmin", "--username", name, "--password", "p",
                               "--email", "e@example.com", check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_createadmin_prompts_for_what_is_missing(fresh_url: str) -> None:
    """Missing username and email are read from standard input, as MAAS prompts."""
    name = "prompted-" + secrets.token_hex(3)
    result = run_region_command(fresh_url, "createadmin", "--password", "pw",
                                input_text=f"{name}\nme@example.com\n")
    assert result.returncode == 0, result.stderr
    assert run_region_command(fresh_url, "apikey", "--username", name).stdout.strip()


@pytest.mark.parametrize(("args", "message"), [
    (("apikey",), "You must provide a username with --username."),
    (("apikey", "--username", "nobody-here"), "User does not exist."),
    (("apikey", "--username", "x", "--generate", "--delete", "a:b:c"),
     "Specify one of --generate or --delete."),
    (("createadmin", "--username", "u", "--password", "", "--email", "e@x"),
     "Passwords cannot be empty"),
])
def test_bad_input_gives_a_clear_message(fresh_url: str, args: tuple[str, ...],
                                         message: str) -> None:
    result = run_region_command(fresh_url, *args, check=False)
    assert result.returncode == 1
    assert message in result.stderr


def test_deleting_an_unknown_key(fresh_url: str) -> None:
    name = "keys-" + secrets.token_hex(3)
    run_region_command(fresh_url, "createadmin", "--username", name, "--password", "p",
                       "--email", "e@example.com")
    result = run_region_command(fresh_url, "apikey", "--username", name, "--delete",
                                "aaa:bbb:ccc", check=False)
    assert result.returncode == 1
    assert "No matching api key found." in result.stderr


def test_bad_database_url_is_reported(tmp_path: object) -> None:
    result = run_region_command("postgresql:///x?host=/nonexistent", "migrate", check=False)
    assert result.returncode == 1
    assert "cannot connect to the database" in result.stderr


def test_not_a_database_url_is_a_config_error() -> None:
    result = run_region_command("http://example.com/", "migrate", check=False)
    assert result.returncode == 1
    assert "database_url" in result.stderr


def test_serve_refuses_an_unmigrated_database(pg_server: Server, tmp_path: object) -> None:
    """The region will not serve a schema it does not know; it says what to run."""
    from pathlib import Path

    url = pg_server.create_database("maasserve")
    with pytest.raises(RuntimeError) as raised:
        RegionProcess.start(url, Path(str(tmp_path)) / "region.log")
    assert "maas-region migrate" in str(raised.value)
