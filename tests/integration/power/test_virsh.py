"""
The virsh driver against real libvirt: the test driver, held open by a session libvirtd.

A libvirtd runs unprivileged (as ``nobody`` in a throwaway network namespace
when we are root, else as ourselves) with its socket in a temporary
directory; one ``virsh event --loop`` process keeps the shared ``test:///default``
connection open so that domain state persists between virsh processes
(shared/reference/test-peers.md §5a).  Three domains are defined, shut off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerConnError, PowerSettingError
from power.virsh import VirshPowerDriver, list_machines

DOMAIN_XML = """\
<domain type='test'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory>524288</memory>
  <vcpu>1</vcpu>
  <os><type arch='{arch}'>hvm</type></os>
  <devices>
    <interface type='network'><mac address='{mac}'/><source network='default'/></interface>
  </devices>
</domain>
"""

NODES = {
    "node1": ("x86_64", "52:54:00:00:00:01"),
    "node2": ("x86_64", "52:54:00:00:00:02"),
    "node3": ("aarch64", "52:54:00:00:00:03"),
}


class Libvirt:
    def __init__(self, uri: str, virsh: str) -> None:
        self.uri = uri
        self.virsh = virsh

    def run(self, *args: str) -> str:
        result = subprocess.run([self.virsh, "-q", "-c", self.uri, *args], capture_output=True,
                                text=True, timeout=30, check=True)
        return result.stdout.strip()

    def state(self, name: str) -> str:
        return self.run("domstate", name)

    def params(self, name: str) -> dict[str, str]:
        return {"power_address": self.uri, "power_id": name}


def _wait_for(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"libvirtd did not start:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def libvirt() -> Iterator[Libvirt]:
    virsh = shutil.which("virsh")
    libvirtd = shutil.which("libvirtd") or shutil.which("libvirtd", path="/usr/sbin:/sbin")
    if virsh is None or libvirtd is None:
        pytest.skip("virsh/libvirtd not installed (libvirt-clients, libvirt-daemon: "
                    "tools/system-deps.sh test)")
    # Not under pytest's tmp_path: its parent is 0700 and libvirtd runs as nobody.
    base = Path(tempfile.mkdtemp(prefix="maas-libvirt-"))
    os.chmod(base, 0o755)
    for part in ("sock", "run", "home"):
        (base / part).mkdir()
    (base / "libvirtd.conf").write_text(
        f'unix_sock_dir = "{base}/sock"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n')
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": f"{base}/home",
           "XDG_RUNTIME_DIR": f"{base}/run", "XDG_CONFIG_HOME": f"{base}/home/.config",
           "XDG_CACHE_HOME": f"{base}/home/.cache"}
    command = [libvirtd, "-f", str(base / "libvirtd.conf"), "--timeout", "600"]
    netns = None
    if os.geteuid() == 0:
        if shutil.which("ip") is None or shutil.which("runuser") is None:
            pytest.skip("need ip and runuser to run libvirtd unprivileged")
        subprocess.run(["chown", "-R", "nobody:nogroup", str(base)], check=True)
        netns = f"maas-lv-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        command = ["ip", "netns", "exec", netns, "runuser", "-u", "nobody", "--", "env",
                   *[f"{k}={v}" for k, v in env.items()], *command]
    log = base / "libvirtd.log"
    daemon = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                              stderr=subprocess.STDOUT, env=env)
    holder = None
    try:
        socket = base / "sock" / "libvirt-sock"
        _wait_for(socket, daemon, log)
        uri = f"test+unix:///default?socket={socket}"
        holder = subprocess.Popen([virsh, "-c", uri, "event", "--all", "--loop"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        lv = Libvirt(uri, virsh)
        deadline = time.monotonic() + 10
        while "test" not in lv.run("list", "--all", "--name"):
            if time.monotonic() > deadline:  # pragma: no cover
                raise RuntimeError("libvirt test driver not answering")
            time.sleep(0.05)
        time.sleep(0.2)  # let the holder connect before the state we set must persist
        lv.run("destroy", "test")
        lv.run("undefine", "test")
        for name, (arch, mac) in NODES.items():
            xml = base / f"{name}.xml"
            xml.write_text(DOMAIN_XML.format(name=name, uuid=uuid.uuid4(), arch=arch, mac=mac))
            xml.chmod(0o644)
            lv.run("define", str(xml))
        yield lv
    finally:
        for process in (holder, daemon):
            if process is not None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        if netns is not None:
            subprocess.run(["ip", "netns", "delete", netns], check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def lv(libvirt: Libvirt) -> Libvirt:
    """The libvirt, with every node shut off."""
    for name in NODES:
        if libvirt.state(name) != "shut off":
            libvirt.run("destroy", name)
    return libvirt


@pytest_twisted.ensureDeferred
async def test_query_follows_the_domain(reactor: Any, lv: Libvirt) -> None:
    driver = VirshPowerDriver(reactor)
    assert await driver.query(lv.params("node1")) == "off"
    lv.run("start", "node1")
    assert await driver.query(lv.params("node1")) == "on"
    lv.run("suspend", "node1")
    assert await driver.query(lv.params("node1")) == "off"  # paused counts as off (1.8)


@pytest_twisted.ensureDeferred
async def test_on_and_off(reactor: Any, lv: Libvirt) -> None:
    driver = VirshPowerDriver(reactor)
    await driver.on(lv.params("node2"), system_id="node-virsh")
    assert lv.state("node2") == "running"
    await driver.on(lv.params("node2"))  # already on: nothing to do, no error
    assert lv.state("node2") == "running"
    await driver.off(lv.params("node2"))
    assert lv.state("node2") == "shut off"
    await driver.off(lv.params("node2"))  # already off: nothing to do
    assert lv.state("node1") == "shut off"  # the others untouched


@pytest_twisted.ensureDeferred
async def test_on_resumes_a_paused_domain(reactor: Any, lv: Libvirt) -> None:
    lv.run("start", "node3")
    lv.run("suspend", "node3")
    await VirshPowerDriver(reactor).on(lv.params("node3"))
    assert lv.state("node3") == "running"


@pytest_twisted.ensureDeferred
async def test_unknown_domain_is_a_setting_error(reactor: Any, lv: Libvirt) -> None:
    with pytest.raises(PowerSettingError, match="no domain 'nosuch'"):
        await VirshPowerDriver(reactor).query(lv.params("nosuch"))


@pytest_twisted.ensureDeferred
async def test_dead_socket_is_a_connection_error(reactor: Any, tmp_path: Path) -> None:
    if shutil.which("virsh") is None:
        pytest.skip("virsh not installed")
    params = {"power_address": f"test+unix:///default?socket={tmp_path}/none",
              "power_id": "node1"}
    with pytest.raises(PowerConnError, match="failed to connect"):
        await VirshPowerDriver(reactor).query(params)


@pytest_twisted.ensureDeferred
async def test_list_machines(reactor: Any, lv: Libvirt) -> None:
    """The probe sees the three domains, with UUIDs, MACs, architectures and states."""
    lv.run("start", "node1")
    machines = {m.name: m for m in await list_machines(reactor, lv.uri)}
    assert set(machines) == set(NODES)
    for name, (arch, mac) in NODES.items():
        machine = machines[name]
        assert machine.macs == (mac,)
        assert machine.arch == arch
        assert machine.uuid == lv.run("domuuid", name)
    assert machines["node1"].architecture == "amd64/generic"
    assert machines["node3"].architecture == "arm64/generic"
    assert machines["node1"].power_state == "on"
    assert machines["node2"].power_state == "off"
