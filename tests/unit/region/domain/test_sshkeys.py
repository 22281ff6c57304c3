"""OpenSSH public key validation, against keys made by the real ssh-keygen."""

from __future__ import annotations

import base64
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from region.domain.sshkeys import InvalidSSHKey, parse_ssh_public_key

KEYGEN_TYPES = {
    "rsa": ["-t", "rsa", "-b", "2048"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "ed25519": ["-t", "ed25519"],
}


def ssh_string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def key_line(*parts: bytes, key_type: str | None = None, comment: str = "") -> str:
    """An OpenSSH key line for a blob made of parts (the first is the type)."""
    blob = b"".join(ssh_string(part) for part in parts)
    name = key_type if key_type is not None else parts[0].decode()
    line = f"{name} {base64.b64encode(blob).decode()}"
    return f"{line} {comment}" if comment else line


@pytest.fixture(scope="module")
def keygen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Key pairs made by ssh-keygen: name -> private key path (public is path.pub)."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    directory = tmp_path_factory.mktemp("sshkeys")
    made = {}
    for name, args in KEYGEN_TYPES.items():
        path = directory / name
        subprocess.run(["ssh-keygen", *args, "-N", "", "-C", f"{name}@test host",
                        "-f", str(path), "-q"], check=True, timeout=60)
        made[name] = path
    return made


def public(keygen: dict[str, Path], name: str) -> str:
    return (keygen[name].parent / (name + ".pub")).read_text()


@pytest.mark.parametrize("name", sorted(KEYGEN_TYPES))
def test_ssh_keygen_public_keys_are_accepted(keygen: dict[str, Path], name: str) -> None:
    """Every public key type ssh-keygen makes is accepted, comment and all."""
    text = public(keygen, name)
    key = parse_ssh_public_key(text)
    assert key.comment == f"{name}@test host"
    assert key.text == text.strip()


def test_dsa_public_key_is_accepted(tmp_path: Path) -> None:
    """ssh-dss keys (still made by some ssh-keygen versions) are accepted."""
    path = tmp_path / "dsa"
    made = subprocess.run(["ssh-keygen", "-t", "dsa", "-N", "", "-f", str(path), "-q"],
                          capture_output=True, timeout=60, check=False)
    if made.returncode != 0:
        pytest.skip("this ssh-keygen no longer makes DSA keys")
    assert parse_ssh_public_key(path.with_suffix(".pub").read_text()).key_type == "ssh-dss"


def test_security_key_types_are_accepted() -> None:
    """FIDO keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-...) carry an application string."""
    ed = key_line(b"sk-ssh-ed25519@openssh.com", bytes(range(32)), b"ssh:")
    point = b"\x04" + bytes(64)
    ec = key_line(b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", point, b"ssh:")
    assert parse_ssh_public_key(ed).key_type == "sk-ssh-ed25519@openssh.com"
    assert parse_ssh_public_key(ec).key_type == "sk-ecdsa-sha2-nistp256@openssh.com"


def test_whitespace_is_normalised(keygen: dict[str, Path]) -> None:
    """Surrounding whitespace and runs of spaces between fields do not count."""
    key_type, blob, comment = public(keygen, "ed25519").strip().split(" ", 2)
    messy = f"\n  {key_type} \t {blob}   {comment}  \r\n"
    assert parse_ssh_public_key(messy).text == f"{key_type} {blob} {comment}"


def test_key_without_comment_is_accepted(keygen: dict[str, Path]) -> None:
    """The comment is optional."""
    key_type, blob, _ = public(keygen, "rsa").split(" ", 2)
    key = parse_ssh_public_key(f"{key_type} {blob}")
    assert key.comment == ""
    assert key.text == f"{key_type} {blob}"


def test_private_key_is_refused_as_such(keygen: dict[str, Path]) -> None:
    """Pasting the private key gets a message saying so."""
    with pytest.raises(InvalidSSHKey, match="private key"):
        parse_ssh_public_key(keygen["ed25519"].read_text())


def test_pem_public_key_is_refused(keygen: dict[str, Path]) -> None:
    """A PKCS#8 PEM public key is not the OpenSSH format."""
    pem = subprocess.run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", str(keygen["rsa"]) + ".pub"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    with pytest.raises(InvalidSSHKey, match="OpenSSH format"):
        parse_ssh_public_key(pem)


def test_mismatched_type_is_refused(keygen: dict[str, Path]) -> None:
    """The type before the blob must be the type inside it."""
    _, blob, _ = public(keygen, "ed25519").split(" ", 2)
    with pytest.raises(InvalidSSHKey, match="not a ssh-rsa key"):
        parse_ssh_public_key(f"ssh-rsa {blob}")


def test_truncated_blob_is_refused(keygen: dict[str, Path]) -> None:
    """A key cut short (a bad copy and paste) is refused."""
    _, blob, _ = public(keygen, "rsa").split(" ", 2)
    raw = base64.b64decode(blob)[:-10]
    with pytest.raises(InvalidSSHKey, match="truncated"):
        parse_ssh_public_key(f"ssh-rsa {base64.b64encode(raw).decode()}")


def test_trailing_bytes_are_refused(keygen: dict[str, Path]) -> None:
    """Extra bytes after the key's fields are refused."""
    _, blob, _ = public(keygen, "ed25519").split(" ", 2)
    raw = base64.b64decode(blob) + b"\x00"
    with pytest.raises(InvalidSSHKey, match="unexpected bytes"):
        parse_ssh_public_key(f"ssh-ed25519 {base64.b64encode(raw).decode()}")


def test_bad_base64_is_refused() -> None:
    """The blob must be base64."""
    with pytest.raises(InvalidSSHKey, match="base64"):
        parse_ssh_public_key("ssh-rsa AAAA!!notbase64 me@host")


def test_unknown_type_is_refused() -> None:
    """Only the key types OpenSSH knows are accepted."""
    blob = key_line(b"ssh-foo", b"x", comment="me@host")
    with pytest.raises(InvalidSSHKey, match="unknown key type 'ssh-foo'"):
        parse_ssh_public_key(blob)


def test_authorized_keys_options_are_refused(keygen: dict[str, Path]) -> None:
    """An authorized_keys line with options is recognised and refused."""
    with pytest.raises(InvalidSSHKey, match="options"):
        parse_ssh_public_key('command="/bin/true" ' + public(keygen, "ed25519"))


def test_two_keys_are_refused(keygen: dict[str, Path]) -> None:
    """One key per request: two lines are refused."""
    with pytest.raises(InvalidSSHKey, match="one line"):
        parse_ssh_public_key(public(keygen, "ed25519") + public(keygen, "rsa"))


def test_missing_blob_is_refused() -> None:
    """A type with no blob after it is refused."""
    with pytest.raises(InvalidSSHKey, match="missing"):
        parse_ssh_public_key("ssh-ed25519")


def test_empty_text_is_refused() -> None:
    """Whitespace alone is not a key."""
    with pytest.raises(InvalidSSHKey, match="empty"):
        parse_ssh_public_key(" \n ")


def test_wrong_ed25519_length_is_refused() -> None:
    """An Ed25519 key is exactly 32 bytes."""
    with pytest.raises(InvalidSSHKey, match="32 bytes"):
        parse_ssh_public_key(key_line(b"ssh-ed25519", bytes(31)))


def test_wrong_curve_is_refused() -> None:
    """An ecdsa-sha2-nistp256 key must name the nistp256 curve."""
    with pytest.raises(InvalidSSHKey, match="curve"):
        parse_ssh_public_key(key_line(b"ecdsa-sha2-nistp256", b"nistp384", b"\x04" + bytes(96)))


def test_wrong_point_size_is_refused() -> None:
    """The EC point must have the size of the curve's points."""
    with pytest.raises(InvalidSSHKey, match="point"):
        parse_ssh_public_key(key_line(b"ecdsa-sha2-nistp256", b"nistp256", b"\x04" + bytes(96)))


def test_negative_rsa_modulus_is_refused() -> None:
    """RSA numbers are positive multi-precision integers."""
    with pytest.raises(InvalidSSHKey, match="RSA modulus"):
        parse_ssh_public_key(key_line(b"ssh-rsa", b"\x01\x00\x01", b"\xff" * 128))


def test_security_key_without_application_is_refused() -> None:
    """A FIDO key blob must end with its application string."""
    with pytest.raises(InvalidSSHKey, match="application"):
        parse_ssh_public_key(key_line(b"sk-ssh-ed25519@openssh.com", bytes(32)))


def test_control_characters_in_comment_are_refused(keygen: dict[str, Path]) -> None:
    """Terminal escapes in the comment are refused (it is shown to people)."""
    key_type, blob, _ = public(keygen, "ed25519").split(" ", 2)
    with pytest.raises(InvalidSSHKey, match="control"):
        parse_ssh_public_key(f"{key_type} {blob} me\x1b[31m@host")


def test_overlong_text_is_refused() -> None:
    """A huge paste is refused before any decoding."""
    with pytest.raises(InvalidSSHKey, match="longer than"):
        parse_ssh_public_key("ssh-rsa " + "A" * 20000)


def test_message_names_the_problem() -> None:
    """The error reads 'Invalid SSH public key: <reason>.' for the API's form error."""
    with pytest.raises(InvalidSSHKey) as raised:
        parse_ssh_public_key("not a key")
    assert str(raised.value) == "Invalid SSH public key: unknown key type 'not'."
