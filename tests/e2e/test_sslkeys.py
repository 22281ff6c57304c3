"""account/prefs/sslkeys/ over HTTP against a real region, with certificates from openssl."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


class CertMaker:
    """Fresh self-signed certificates (and their keys) from openssl."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pair(self, *, rsa: bool = False) -> tuple[str, str]:
        """A new (certificate PEM, private key PEM); P-256, or RSA-2048 when asked."""
        name = secrets.token_hex(4)
        cert, key = self.directory / f"{name}.pem", self.directory / f"{name}.key"
        algorithm = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", *algorithm,
             "-nodes", "-days", "2", "-subj", f"/CN={name}.example.com",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60)
        return cert.read_text(), key.read_text()

    def __call__(self) -> str:
        return self.pair()[0]


@pytest.fixture(scope="module")
def make_cert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertMaker]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    yield CertMaker(tmp_path_factory.mktemp("e2e-sslkeys"))


def add_key(client: MAASClient, key: str) -> dict[str, object]:
    response = client.post("account/prefs/sslkeys/", "new", key=key)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_new_key_is_created_with_1_8_shape(region: RegionProcess, admin: MAASClient,
                                           make_cert: CertMaker) -> None:
    """op=new answers 201 with id, key and resource_uri; GET returns the same."""
    _, user = region.new_user(admin)
    pem = make_cert()
    response = user.post("account/prefs/sslkeys/", "new", key=pem)
    assert response.status_code == 201, response.text
    created = response.json()
    assert sorted(created) == ["id", "key", "resource_uri"]
    assert created["key"] == pem.strip()
    assert created["resource_uri"] == f"/MAAS/api/1.0/account/prefs/sslkeys/{created['id']}/"
    fetched = user.get(f"account/prefs/sslkeys/{created['id']}/")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_list_shows_only_the_callers_keys(region: RegionProcess, admin: MAASClient,
                                          make_cert: CertMaker) -> None:
    """op=list gives the caller's keys in creation order, not other users' keys."""
    _, alice = region.new_user(admin)
    _, bob = region.new_user(admin)
    first = add_key(alice, make_cert())
    second = add_key(alice, make_cert())
    bobs = add_key(bob, make_cert())
    assert alice.get("account/prefs/sslkeys/", "list").json() == [first, second]
    assert bob.get("account/prefs/sslkeys/", "list").json() == [bobs]


def test_another_users_key_is_401(region: RegionProcess, admin: MAASClient,
                                  make_cert: CertMaker) -> None:
    """Reading or deleting someone else's key answers 401 and leaves the key alone."""
    _, owner = region.new_user(admin)
    _, stranger = region.new_user(admin)
    key = add_key(owner, make_cert())
    path = f"account/prefs/sslkeys/{key['id']}/"
    read = stranger.get(path)
    assert read.status_code == 401
    assert read.text == "Can't get a key you don't own."
    assert stranger.delete(path).status_code == 401
    assert stranger.get(path, "delete").status_code == 401
    assert owner.get(path).status_code == 200


def test_delete_key(region: RegionProcess, admin: MAASClient, make_cert: CertMaker) -> None:
    """DELETE answers 204 and the key is gone."""
    _, user = region.new_user(admin)
    key = add_key(user, make_cert())
    path = f"account/prefs/sslkeys/{key['id']}/"
    response = user.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert user.get(path).status_code == 404
    assert user.delete(path).status_code == 404


def test_get_op_delete(region: RegionProcess, admin: MAASClient, make_cert: CertMaker) -> None:
    """GET op=delete deletes (204), exactly as the 1.8 document lists it."""
    _, user = region.new_user(admin)
    key = add_key(user, make_cert())
    path = f"account/prefs/sslkeys/{key['id']}/"
    response = user.get(path, "delete")
    assert response.status_code == 204
    assert user.get(path).status_code == 404


def test_post_op_delete_is_not_an_ssl_key_operation(region: RegionProcess, admin: MAASClient,
                                                    make_cert: CertMaker) -> None:
    """Unlike SSH keys, SSL keys have no POST op=delete in 1.8: 405, and the key stays."""
    _, user = region.new_user(admin)
    key = add_key(user, make_cert())
    path = f"account/prefs/sslkeys/{key['id']}/"
    assert user.post(path, "delete").status_code == 405
    assert user.get(path).status_code == 200


@pytest.mark.parametrize("keyid", ["999999999", "abc", "0x10", "99999999999999999999"])
def test_unknown_or_malformed_id_is_404(admin: MAASClient, keyid: str) -> None:
    """Ids that are not a key's, numeric or not, answer 404 (never 500)."""
    assert admin.get(f"account/prefs/sslkeys/{keyid}/").status_code == 404
    assert admin.get(f"account/prefs/sslkeys/{keyid}/", "delete").status_code == 404


def test_invalid_key_is_a_form_error(region: RegionProcess, admin: MAASClient) -> None:
    """Text that is not a PEM certificate is a 400 on the key field."""
    _, user = region.new_user(admin)
    response = user.post("account/prefs/sslkeys/", "new", key="not a certificate")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    messages = response.json()["key"]
    assert len(messages) == 1 and messages[0].startswith("Invalid SSL key: ")
    assert user.get("account/prefs/sslkeys/", "list").json() == []


def test_private_key_is_refused(region: RegionProcess, admin: MAASClient,
                                make_cert: CertMaker) -> None:
    """A certificate bundled with its private key is refused, saying why."""
    _, user = region.new_user(admin)
    cert, key = make_cert.pair()
    response = user.post("account/prefs/sslkeys/", "new", key=cert + key)
    assert response.status_code == 400
    assert "private key" in response.json()["key"][0]


def test_duplicate_key_is_a_form_error(region: RegionProcess, admin: MAASClient,
                                       make_cert: CertMaker) -> None:
    """The same certificate twice for one user is a 400; another user may add it."""
    _, user = region.new_user(admin)
    _, other = region.new_user(admin)
    pem = make_cert()
    add_key(user, pem)
    again = user.post("account/prefs/sslkeys/", "new", key=pem.replace("\n", "\r\n"))
    assert again.status_code == 400
    assert again.json() == {"key": ["SSL key with this User and Key already exists."]}
    add_key(other, pem)


def test_missing_key_is_a_form_error(admin: MAASClient) -> None:
    """op=new without a key names the missing field."""
    response = admin.post("account/prefs/sslkeys/", "new")
    assert response.status_code == 400
    assert response.json() == {"key": ["This field is required."]}


def test_certificate_chain_is_stored(region: RegionProcess, admin: MAASClient,
                                     make_cert: CertMaker) -> None:
    """A chain longer than a btree entry (several KB) is stored, and is unique per user."""
    _, user = region.new_user(admin)
    chain = "".join(make_cert.pair(rsa=True)[0] for _ in range(4))
    assert len(chain) > 4000
    created = add_key(user, chain)
    assert created["key"] == chain.strip()
    assert user.post("account/prefs/sslkeys/", "new", key=chain).status_code == 400


def test_key_as_file_part(region: RegionProcess, admin: MAASClient,
                          make_cert: CertMaker) -> None:
    """The certificate may be uploaded as a file part (the CLI's key@=cert.pem)."""
    _, user = region.new_user(admin)
    pem = make_cert()
    response = user.post("account/prefs/sslkeys/", "new", files={"key": pem.encode()})
    assert response.status_code == 201, response.text


def test_binary_file_part_is_a_form_error(region: RegionProcess, admin: MAASClient) -> None:
    """A DER or other binary upload is a 400 on the key field, not a crash."""
    _, user = region.new_user(admin)
    response = user.post("account/prefs/sslkeys/", "new", files={"key": b"\x30\x82\xff\xfe"})
    assert response.status_code == 400
    assert list(response.json()) == ["key"]


def test_anonymous_is_401(region: RegionProcess) -> None:
    """SSL keys need credentials."""
    assert region.anonymous().get("account/prefs/sslkeys/", "list").status_code == 401
