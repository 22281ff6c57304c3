"""files/ and files/{filename}/ over HTTP against a real region process."""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from urllib.parse import quote

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

#: Bytes that are not UTF-8 (and include a NUL and a CR LF), to prove byte-exact storage.
BINARY = bytes(range(256)) + b"\xff\xfe\x00\r\n--boundary\r\n"


def unique(prefix: str = "file") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_user_or_skip(region: RegionProcess, admin: MAASClient) -> MAASClient:
    """A plain user's client; skips while POST users/ is not served yet."""
    resources = region.anonymous().get("describe/").json()["resources"]
    users = {r["name"]: r for r in resources}.get("UsersHandler") or {}
    actions = (users.get("auth") or {}).get("actions", [])
    if not any(a["method"] == "POST" and a["op"] is None for a in actions):
        pytest.skip("needs POST users/ (UsersHandler.create), not served yet")
    return region.new_user(admin)[1]


def add(client: MAASClient, filename: str, content: bytes) -> dict[str, object]:
    response = client.post("files/", op="add", filename=filename, files={"file": content})
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def key_of(stored: dict[str, object]) -> str:
    found = re.fullmatch(r"/MAAS/api/1\.0/files/\?op=get_by_key&key=(.+)",
                         str(stored["anon_resource_uri"]))
    assert found is not None, stored
    return found.group(1)


def test_add_answers_201_with_the_file_without_content(admin: MAASClient) -> None:
    """op=add stores the file and describes it (filename, URIs), without its content."""
    name = unique()
    stored = add(admin, name, b"hello")
    assert list(stored) == ["filename", "anon_resource_uri", "resource_uri"]
    assert stored["filename"] == name
    assert stored["resource_uri"] == f"/MAAS/api/1.0/files/{name}/"
    uuid.UUID(key_of(stored))


def test_binary_content_round_trips_byte_exact(region: RegionProcess, admin: MAASClient) -> None:
    """Non-UTF-8 bytes come back identical by name, by key and base64 in the JSON."""
    name = unique()
    stored = add(admin, name, BINARY)
    anonymous = region.anonymous()

    by_name = anonymous.get("files/", op="get", filename=name)
    assert by_name.status_code == 200
    assert by_name.headers["Content-Type"] == "application/octet-stream"
    assert by_name.content == BINARY

    by_key = anonymous.get(region.url + str(stored["anon_resource_uri"]))
    assert by_key.status_code == 200
    assert by_key.content == BINARY

    read = admin.get(f"files/{name}/")
    assert read.status_code == 200
    assert read.json()["filename"] == name
    assert base64.b64decode(read.json()["content"]) == BINARY
    assert list(read.json()) == ["filename", "anon_resource_uri", "content", "resource_uri"]


def test_adding_an_existing_name_replaces_the_file(admin: MAASClient) -> None:
    """The same owner storing the same filename replaces its content and keeps its key."""
    name = unique()
    first = add(admin, name, b"one")
    second = add(admin, name, b"two")
    assert key_of(second) == key_of(first)
    assert admin.get("files/", op="get", filename=name).content == b"two"
    listed = [f["filename"] for f in admin.get("files/", op="list", prefix=name).json()]
    assert listed == [name]


def test_list_is_ordered_filtered_and_without_content(admin: MAASClient) -> None:
    """op=list returns the caller's files by filename, filtered by prefix, no content."""
    prefix = unique("list")
    for suffix in ("c", "a", "b"):
        add(admin, f"{prefix}-{suffix}", suffix.encode())
    add(admin, unique("other"), b"x")
    response = admin.get("files/", op="list", prefix=prefix)
    assert response.status_code == 200
    files = response.json()
    assert [f["filename"] for f in files] == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    assert all("content" not in f for f in files)
    everything = [f["filename"] for f in admin.get("files/", op="list").json()]
    assert everything == sorted(everything)
    assert f"{prefix}-a" in everything


def test_prefix_is_literal(admin: MAASClient) -> None:
    """LIKE wildcards in a prefix match only themselves."""
    base = unique("wild")
    add(admin, f"{base}_%x", b"1")
    add(admin, f"{base}-ab", b"2")
    names = [f["filename"] for f in admin.get("files/", op="list", prefix=f"{base}_%").json()]
    assert names == [f"{base}_%x"]


def test_missing_files_are_404(region: RegionProcess, admin: MAASClient) -> None:
    """Unknown names and keys, and keys that are not even UUIDs, are 404 (never 500)."""
    anonymous = region.anonymous()
    assert anonymous.get("files/", op="get", filename=unique("nope")).status_code == 404
    assert anonymous.get("files/", op="get", filename="a\x00b").status_code == 400
    assert anonymous.get("files/", op="get_by_key", key=str(uuid.uuid4())).status_code == 404
    for key in ("not-a-uuid", "", "'; DROP TABLE files; --"):
        assert anonymous.get("files/", op="get_by_key", key=key).status_code == 404
    assert anonymous.get("files/", op="get_by_key", key="\x00").status_code == 400
    assert admin.get(f"files/{unique('nope')}/").status_code == 404
    assert admin.delete(f"files/{unique('nope')}/").status_code == 404
    assert admin.get("files/a%00b/").status_code == 404


def test_missing_lookup_parameters_are_400(region: RegionProcess) -> None:
    """op=get needs filename and op=get_by_key needs key."""
    anonymous = region.anonymous()
    assert anonymous.get("files/", op="get").status_code == 400
    assert anonymous.get("files/", op="get_by_key").status_code == 400


def test_add_refuses_bad_requests(admin: MAASClient) -> None:
    """op=add is 400 without a filename, without file data, or with two files."""
    no_name = admin.post("files/", op="add", files={"file": b"data"})
    assert no_name.status_code == 400
    assert "filename" in no_name.json()

    empty_name = admin.post("files/", op="add", filename="", files={"file": b"data"})
    assert empty_name.status_code == 400

    no_file = admin.post("files/", op="add", filename=unique())
    assert no_file.status_code == 400
    assert "file" in no_file.json()

    name = unique()
    two = admin.post("files/", op="add", filename=name,
                     files={"file": b"one", "other": b"two"})
    assert two.status_code == 400
    assert admin.get("files/", op="get", filename=name).status_code == 404

    nul = admin.post("files/", op="add", filename="a\x00b", files={"file": b"x"})
    assert nul.status_code == 400


def test_delete_both_ways(admin: MAASClient) -> None:
    """DELETE and POST op=delete both remove the caller's file with 204."""
    first, second = unique(), unique()
    add(admin, first, b"1")
    add(admin, second, b"2")
    response = admin.delete(f"files/{first}/")
    assert response.status_code == 204
    assert response.content == b""
    response = admin.post(f"files/{second}/", op="delete")
    assert response.status_code == 204
    for name in (first, second):
        assert admin.get(f"files/{name}/").status_code == 404
        assert admin.get("files/", op="get", filename=name).status_code == 404


@pytest.mark.parametrize("odd", ["with space", "slash/inside", "per%cent", "q?uery#frag",
                                 "ünïcødé-名前", "plus+and&amp"])
def test_filenames_needing_escapes(region: RegionProcess, admin: MAASClient, odd: str) -> None:
    """Filenames with reserved or non-ASCII characters are addressable via resource_uri."""
    name = f"{unique()}-{odd}"
    stored = add(admin, name, b"odd")
    assert stored["resource_uri"] == f"/MAAS/api/1.0/files/{quote(name, safe='')}/"
    read = admin.get(region.url + str(stored["resource_uri"]))
    assert read.status_code == 200
    assert read.json()["filename"] == name
    assert region.anonymous().get("files/", op="get", filename=name).content == b"odd"
    assert admin.delete(region.url + str(stored["resource_uri"])).status_code == 204


def test_files_are_private_to_their_owner(region: RegionProcess, admin: MAASClient) -> None:
    """Another user cannot list, read or delete my file, but op=get by name still finds it."""
    user = new_user_or_skip(region, admin)
    name = unique()
    add(admin, name, b"admin's")
    assert user.get(f"files/{name}/").status_code == 404
    assert user.delete(f"files/{name}/").status_code == 404
    assert user.post(f"files/{name}/", op="delete").status_code == 404
    assert name not in [f["filename"] for f in user.get("files/", op="list").json()]
    assert admin.get(f"files/{name}/").status_code == 200
    assert user.get("files/", op="get", filename=name).content == b"admin's"


def test_op_get_returns_the_newest_file_of_any_owner(region: RegionProcess,
                                                     admin: MAASClient) -> None:
    """When two owners store the same filename, op=get returns the newer one."""
    user = new_user_or_skip(region, admin)
    name = unique()
    add(admin, name, b"older")
    add(user, name, b"newer")
    assert region.anonymous().get("files/", op="get", filename=name).content == b"newer"
    assert base64.b64decode(admin.get(f"files/{name}/").json()["content"]) == b"older"


def test_anonymous_may_only_fetch(region: RegionProcess) -> None:
    """Without credentials, listing, adding and reading file objects are 401."""
    anonymous = region.anonymous()
    assert anonymous.get("files/", op="list").status_code == 401
    assert anonymous.post("files/", op="add", filename="x",
                          files={"file": b"x"}).status_code == 401
    assert anonymous.get("files/whatever/").status_code == 401
