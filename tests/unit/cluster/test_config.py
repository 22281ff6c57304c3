"""ClusterConfig.load: precedence, every error at once, the kept uuid, the secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cluster.config import UUID_FILE, ClusterConfig, ConfigError, secret_file_warning
from rpc.auth import write_secret

SECRET = bytes(range(16))


@pytest.fixture
def secret_file(tmp_path: Path) -> str:
    path = tmp_path / "secret"
    write_secret(path, SECRET)
    return str(path)


def load(tmp_path: Path, environ: dict[str, str] | None = None, path: str | None = None,
         **overrides: object) -> ClusterConfig:
    overrides.setdefault("state_dir", str(tmp_path / "state"))
    return ClusterConfig.load(environ or {}, path, overrides, new_uuid=lambda: "generated-1")


def test_defaults_and_a_generated_uuid_kept_in_the_state_dir(tmp_path: Path,
                                                             secret_file: str) -> None:
    """Without a uuid one is generated, written to <state-dir>/cluster_uuid, and reused."""
    config = load(tmp_path, secret_file=secret_file)
    assert config.region_url == "http://localhost:5240/MAAS/"
    assert config.discovery_url == "http://localhost:5240/MAAS/rpc/"
    assert config.secret == SECRET
    assert config.uuid == "generated-1"
    assert (tmp_path / "state" / UUID_FILE).read_text().strip() == "generated-1"
    again = ClusterConfig.load({}, None, {"state_dir": str(tmp_path / "state"),
                                          "secret_file": secret_file},
                               new_uuid=lambda: "generated-2")
    assert again.uuid == "generated-1"
    assert (config.power_monitor_interval, config.power_monitor_concurrency) == (2.0, 512)
    assert config.region_status_interval == 30.0


def test_flags_beat_environment_beat_file(tmp_path: Path, secret_file: str) -> None:
    """Precedence: flags > environment (MAAS_URL, CLUSTER_UUID) > TOML file > defaults."""
    toml = tmp_path / "cluster.toml"
    toml.write_text(f'region_url = "http://file:5240/MAAS/"\nuuid = "from-file"\n'
                    f'name = "rack-file"\nsecret_file = "{secret_file}"\n'
                    'power_monitor_interval = 30\n')
    from_file = load(tmp_path, path=str(toml))
    assert (from_file.region_url, from_file.uuid, from_file.name) == (
        "http://file:5240/MAAS/", "from-file", "rack-file")
    assert from_file.power_monitor_interval == 30.0
    environ = {"MAAS_URL": "http://env:5240/MAAS", "CLUSTER_UUID": "from-env"}
    from_env = load(tmp_path, environ, str(toml))
    assert (from_env.region_url, from_env.uuid) == ("http://env:5240/MAAS/", "from-env")
    from_flags = load(tmp_path, environ, str(toml), region_url="https://flag/MAAS/",
                      uuid="from-flag")
    assert (from_flags.region_url, from_flags.uuid) == ("https://flag/MAAS/", "from-flag")
    assert not (tmp_path / "state" / UUID_FILE).exists()  # a configured uuid is not written


def test_the_config_file_comes_from_the_environment(tmp_path: Path, secret_file: str) -> None:
    """MAAS_CLUSTER_CONFIG names the TOML file when --config does not."""
    toml = tmp_path / "c.toml"
    toml.write_text('uuid = "via-env-file"\n')
    config = load(tmp_path, {"MAAS_CLUSTER_CONFIG": str(toml)}, secret_file=secret_file)
    assert config.uuid == "via-env-file"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Bad URL, missing secret, reserved uuid, bad level, unknown key: all in one error,
    and no uuid file written."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, {"CLUSTER_UUID": "master"}, region_url="ftp://region/",
             secret_file=str(tmp_path / "missing"), log_level="loud", colour="blue",
             power_monitor_concurrency="0")
    text = str(raised.value)
    assert len(raised.value.problems) == 6, text
    for expected in ("region_url: 'ftp://region/' is not an http(s) URL",
                     f"there is no shared secret file at {tmp_path / 'missing'}",
                     "maas-region shared-secret --write FILE",
                     "uuid: 'master' is reserved", "log_level: 'loud'",
                     "unknown setting 'colour'", "power_monitor_concurrency must be at least 1"):
        assert expected in text
    assert not (tmp_path / "state").exists()


def test_bad_secrets_and_uuids(tmp_path: Path) -> None:
    """A secret file that is not hex, an unreadable one, and a malformed uuid are refused
    with messages that never show the file's content."""
    bad = tmp_path / "bad-secret"
    bad.write_text("this is not hex, it is zz\n")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, secret_file=str(bad), uuid="has spaces in it")
    text = str(raised.value)
    assert "not valid hex" in text and "zz" not in text
    assert "is not a valid cluster uuid" in text
    if os.geteuid() != 0:  # root reads anything
        unreadable = tmp_path / "unreadable"
        write_secret(unreadable, SECRET)
        unreadable.chmod(0)
        with pytest.raises(ConfigError, match="cannot read"):
            load(tmp_path, secret_file=str(unreadable))


def test_region_url_is_normalised(tmp_path: Path, secret_file: str) -> None:
    """The URL gains its final slash; a query string is refused."""
    config = load(tmp_path, region_url="http://10.0.0.1:5240/MAAS", secret_file=secret_file)
    assert config.region_url == "http://10.0.0.1:5240/MAAS/"
    with pytest.raises(ConfigError, match="must not have a query"):
        load(tmp_path, region_url="http://10.0.0.1/MAAS/?x=1", secret_file=secret_file)
    with pytest.raises(ConfigError, match="is not an http"):
        load(tmp_path, region_url="10.0.0.1:5240", secret_file=secret_file)


def test_a_bad_stored_uuid_is_reported(tmp_path: Path, secret_file: str) -> None:
    """A corrupt cluster_uuid file is an error, not silently replaced."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / UUID_FILE).write_text("not a uuid!\n")
    with pytest.raises(ConfigError, match="is not a valid cluster uuid"):
        load(tmp_path, secret_file=secret_file)


def test_unwritable_state_dir_is_reported(tmp_path: Path, secret_file: str) -> None:
    """A uuid that cannot be kept is an error that says what to do."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="give --uuid, or a writable --state-dir"):
        load(tmp_path, secret_file=secret_file, state_dir=str(blocker / "state"))


def test_the_secret_is_never_shown(tmp_path: Path, secret_file: str) -> None:
    """repr(config) leaves the secret out."""
    config = load(tmp_path, secret_file=secret_file)
    assert SECRET.hex() not in repr(config) and repr(SECRET) not in repr(config)


def test_world_readable_secret_file_warning(tmp_path: Path, secret_file: str) -> None:
    """A secret file readable by everyone earns a warning (the region writes 0640)."""
    assert secret_file_warning(secret_file) is None
    os.chmod(secret_file, 0o644)
    assert "readable by every user" in (secret_file_warning(secret_file) or "")
