"""account/prefs/sshkeys/ over HTTP against a real region, with keys from ssh-keygen."""

from __future__ import annotations

import base64
import secrets
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

KEY_ERROR_PREFIX = "Invalid SSH public key: "


class KeyMaker:
    """Fresh ed25519 public keys from ssh-keygen, each with a unique comment."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self) -> str:
        name = secrets.token_hex(4)
        path = self.directory / name
        subprocess.run(["ssh-keygen", "-t", "ed25519", "-N", "", "-C", f"user@{name}",
                        "-f", str(path), "-q"], check=True, timeout=60)
        return path.with_suffix(".pub").read_text()


@pytest.fixture(scope="module")
def make_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyMaker]:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    yield KeyMaker(tmp_path_factory.mktemp("e2e-sshkeys"))


def add_key(client: MAASClient, key: str) -> dict[str, object]:
    response = client.post("account/prefs/sshkeys/", "new", key=key)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_new_key_is_created_with_1_8_shape(region: RegionProcess, admin: MAASClient,
                                           make_key: KeyMaker) -> None:
    """op=new answers 201 with id, key and resource_uri; GET returns the same."""
    _, user = region.new_user(admin)
    text = make_key()
    response = user.post("account/prefs/sshkeys/", "new", key=text)
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    created = response.json()
    assert sorted(created) == ["id", "key", "resource_uri"]
    assert created["key"] == text.strip()
    assert created["resource_uri"] == f"/MAAS/api/1.0/account/prefs/sshkeys/{created['id']}/"
    fetched = user.get(f"account/prefs/sshkeys/{created['id']}/")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_list_shows_only_the_callers_keys(region: RegionProcess, admin: MAASClient,
                                          make_key: KeyMaker) -> None:
    """op=list gives the caller's keys in creation order, not other users' keys."""
    _, alice = region.new_user(admin)
    _, bob = region.new_user(admin)
    first = add_key(alice, make_key())
    second = add_key(alice, make_key())
    bobs = add_key(bob, make_key())
    listing = alice.get("account/prefs/sshkeys/", "list")
    assert listing.status_code == 200
    assert listing.json() == [first, second]
    assert bob.get("account/prefs/sshkeys/", "list").json() == [bobs]


def test_new_user_has_no_keys(region: RegionProcess, admin: MAASClient) -> None:
    """A fresh account lists no keys."""
    _, user = region.new_user(admin)
    assert user.get("account/prefs/sshkeys/", "list").json() == []


def test_another_users_key_is_401(region: RegionProcess, admin: MAASClient,
                                  make_key: KeyMaker) -> None:
    """Reading or deleting someone else's key answers 401 and leaves the key alone."""
    _, owner = region.new_user(admin)
    _, stranger = region.new_user(admin)
    key = add_key(owner, make_key())
    path = f"account/prefs/sshkeys/{key['id']}/"
    read = stranger.get(path)
    assert read.status_code == 401
    assert read.text == "Can't get a key you don't own."
    deleted = stranger.delete(path)
    assert deleted.status_code == 401
    assert deleted.text == "Can't delete a key you don't own."
    assert stranger.post(path, "delete").status_code == 401
    assert admin.delete(path).status_code == 401  # admins do not manage others' keys either
    assert owner.get(path).status_code == 200


def test_delete_key(region: RegionProcess, admin: MAASClient, make_key: KeyMaker) -> None:
    """DELETE answers 204 and the key is gone."""
    _, user = region.new_user(admin)
    key = add_key(user, make_key())
    path = f"account/prefs/sshkeys/{key['id']}/"
    response = user.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert user.get(path).status_code == 404
    assert user.delete(path).status_code == 404
    assert user.get("account/prefs/sshkeys/", "list").json() == []


def test_post_op_delete(region: RegionProcess, admin: MAASClient, make_key: KeyMaker) -> None:
    """POST op=delete deletes too (204), as the 1.8 document lists it."""
    _, user = region.new_user(admin)
    key = add_key(user, make_key())
    path = f"account/prefs/sshkeys/{key['id']}/"
    assert user.post(path, "delete").status_code == 204
    assert user.get(path).status_code == 404


@pytest.mark.parametrize("keyid", ["999999999", "abc", "1.5", "-1", "99999999999999999999"])
def test_unknown_or_malformed_id_is_404(admin: MAASClient, keyid: str) -> None:
    """Ids that are not a key's, numeric or not, answer 404 (never 500)."""
    assert admin.get(f"account/prefs/sshkeys/{keyid}/").status_code == 404
    assert admin.delete(f"account/prefs/sshkeys/{keyid}/").status_code == 404


def test_invalid_key_is_a_form_error(region: RegionProcess, admin: MAASClient) -> None:
    """A key that is not an OpenSSH public key is a 400 on the key field, with the reason."""
    _, user = region.new_user(admin)
    response = user.post("account/prefs/sshkeys/", "new", key="ssh-rsa AAAAB3NzaC1yc2E= me")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    messages = response.json()["key"]
    assert len(messages) == 1 and messages[0].startswith(KEY_ERROR_PREFIX)
    assert user.get("account/prefs/sshkeys/", "list").json() == []


def test_private_key_is_refused(region: RegionProcess, admin: MAASClient,
                                tmp_path: Path) -> None:
    """Uploading a private key by mistake is refused and the message says so."""
    _, user = region.new_user(admin)
    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-t", "ed25519", "-N", "", "-f", str(path), "-q"],
                   check=True, timeout=60)
    response = user.post("account/prefs/sshkeys/", "new", key=path.read_text())
    assert response.status_code == 400
    assert "private key" in response.json()["key"][0]


def test_duplicate_key_is_a_form_error(region: RegionProcess, admin: MAASClient,
                                       make_key: KeyMaker) -> None:
    """The same key twice for one user is a 400; another user may add it."""
    _, user = region.new_user(admin)
    _, other = region.new_user(admin)
    text = make_key()
    add_key(user, text)
    again = user.post("account/prefs/sshkeys/", "new", key="  " + text)
    assert again.status_code == 400
    assert again.json() == {"key": ["SSH key with this User and Key already exists."]}
    add_key(other, text)


def test_missing_key_is_a_form_error(admin: MAASClient) -> None:
    """op=new without a key names the missing field."""
    response = admin.post("account/prefs/sshkeys/", "new")
    assert response.status_code == 400
    assert response.json() == {"key": ["This field is required."]}


def test_key_as_file_part(region: RegionProcess, admin: MAASClient, make_key: KeyMaker) -> None:
    """The key may be uploaded as a file part (the CLI's key@=file.pub)."""
    _, user = region.new_user(admin)
    text = make_key()
    response = user.post("account/prefs/sshkeys/", "new", files={"key": text.encode()})
    assert response.status_code == 201, response.text
    assert response.json()["key"] == text.strip()


def test_urlencoded_new(region: RegionProcess, admin: MAASClient, make_key: KeyMaker) -> None:
    """gomaasapi's urlencoded form works for op=new."""
    _, user = region.new_user(admin)
    response = user.post("account/prefs/sshkeys/", "new", form="urlencoded", key=make_key())
    assert response.status_code == 201


def test_large_key_is_stored(region: RegionProcess, admin: MAASClient) -> None:
    """A key larger than a btree entry (a 16384-bit RSA modulus) is stored and found."""
    _, user = region.new_user(admin)

    def ssh_string(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    modulus = b"\x7f" + secrets.token_bytes(2047)
    blob = ssh_string(b"ssh-rsa") + ssh_string(b"\x01\x00\x01") + ssh_string(modulus)
    text = f"ssh-rsa {base64.b64encode(blob).decode()} big@key"
    created = add_key(user, text)
    assert created["key"] == text
    again = user.post("account/prefs/sshkeys/", "new", key=text)
    assert again.status_code == 400


def test_collection_without_op_is_unrecognised(admin: MAASClient) -> None:
    """sshkeys/ has only named ops in 1.8: a bare GET is 400 Unrecognised signature."""
    response = admin.get("account/prefs/sshkeys/")
    assert response.status_code == 400
    assert response.text == "Unrecognised signature: method=GET op=None"


def test_anonymous_is_401(region: RegionProcess) -> None:
    """SSH keys need credentials."""
    assert region.anonymous().get("account/prefs/sshkeys/", "list").status_code == 401


def test_deleting_a_user_deletes_their_keys(region: RegionProcess, admin: MAASClient,
                                            make_key: KeyMaker) -> None:
    """A deleted user's keys go with them."""
    name, user = region.new_user(admin)
    key = add_key(user, make_key())
    assert admin.delete(f"users/{name}/").status_code == 204
    assert admin.get(f"account/prefs/sshkeys/{key['id']}/").status_code == 404
