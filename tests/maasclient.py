"""
An independent MAAS API client for tests, signing exactly as MAAS clients do.

It uses requests and requests-oauthlib (OAuth 1.0a PLAINTEXT, signature
``&<token_secret>`` in the Authorization header), not a line of the
region's own code.  POST and PUT send ``multipart/form-data`` like the MAAS
CLI, or urlencoded like gomaasapi when ``form="urlencoded"``.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT
from requests_oauthlib import OAuth1

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MAASClient:
    """Calls ``/MAAS/api/1.0/`` with one API key (or none, for anonymous calls)."""

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 signature_type: str = "AUTH_HEADER") -> None:
        self.base_url = base_url.rstrip("/") + "/MAAS/api/1.0/"
        self.api_key = api_key
        self.session = requests.Session()
        self.auth = None
        if api_key:
            consumer_key, token_key, token_secret = api_key.split(":")
            self.auth = OAuth1(consumer_key, client_secret="", resource_owner_key=token_key,
                               resource_owner_secret=token_secret,
                               signature_method=SIGNATURE_PLAINTEXT,
                               signature_type=signature_type)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path.lstrip("/")

    def get(self, path: str, op: str | None = None, **params: Any) -> requests.Response:
        if op is not None:
            params["op"] = op
        return self.session.get(self.url(path), params=params, auth=self.auth, timeout=30)

    def _form(self, params: dict[str, Any], files: dict[str, bytes] | None,
              form: str) -> dict[str, Any]:
        if form == "urlencoded" and not files:
            return {"data": params}
        if form == "json":
            return {"json": params}
        parts: list[tuple[str, tuple[str | None, Any]]] = []
        for name, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                parts.append((name, (None, item if isinstance(item, bytes) else str(item))))
        for name, content in (files or {}).items():
            parts.append((name, (name, content)))
        if not parts:
            return {}
        return {"files": parts}

    def post(self, path: str, op: str | None = None, *, files: dict[str, bytes] | None = None,
             form: str = "multipart", **params: Any) -> requests.Response:
        """POST with ``op`` in the query string, as gomaasapi and the MAAS CLI do."""
        query = {"op": op} if op is not None else {}
        return self.session.post(self.url(path), params=query, auth=self.auth, timeout=30,
                                 **self._form(params, files, form))

    def put(self, path: str, *, files: dict[str, bytes] | None = None,
            form: str = "multipart", **params: Any) -> requests.Response:
        return self.session.put(self.url(path), auth=self.auth, timeout=30,
                                **self._form(params, files, form))

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), auth=self.auth, timeout=30)


def stop_process(process: subprocess.Popen[Any], grace: float) -> int:
    """SIGTERM a child, wait up to grace seconds, then SIGKILL it; its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class RegionProcess:
    """A ``maas-region serve`` child process on a free loopback port."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, database_url: str,
                 log_path: Path, rpc_port: int = 0) -> None:
        self.process = process
        self.url = url
        self.database_url = database_url
        self.log_path = log_path
        self.rpc_port = rpc_port

    @classmethod
    def start(cls, database_url: str, log_path: Path, *, port: int | None = None,
              extra_args: tuple[str, ...] = ()) -> RegionProcess:
        port = port or free_port()
        rpc_port = free_port()
        env = dict(os.environ, MAAS_DATABASE_URL=database_url)
        with open(log_path, "ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "region.main", "serve", "--listen", f"127.0.0.1:{port}",
                 "--rpc-listen", f"127.0.0.1:{rpc_port}", *extra_args],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )
        region = cls(process, f"http://127.0.0.1:{port}", database_url, log_path, rpc_port)
        region.wait_ready()
        return region

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"region exited early:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/MAAS/api/1.0/version/", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"region did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        stop_process(self.process, 10)

    def command(self, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, MAAS_DATABASE_URL=self.database_url)
        return subprocess.run([sys.executable, "-m", "region.main", *args], env=env,
                              input=input_text, capture_output=True, text=True, timeout=120,
                              cwd=REPO, check=False)

    def api_key(self, username: str) -> str:
        result = self.command("apikey", "--username", username)
        if result.returncode != 0:
            raise AssertionError(result.stderr)
        return result.stdout.splitlines()[0]

    def client_for(self, username: str) -> MAASClient:
        return MAASClient(self.url, self.api_key(username))

    def anonymous(self) -> MAASClient:
        return MAASClient(self.url)

    def new_user(self, admin: MAASClient, *, superuser: bool = False) -> tuple[str, MAASClient]:
        """Create a user through the API; return its name and a client with its key."""
        username = "user-" + secrets.token_hex(4)
        response = admin.post("users/", username=username, email=f"{username}@example.com",
                              password="secret", is_superuser="1" if superuser else "0")
        assert response.status_code == 200, response.text
        return username, self.client_for(username)
