"""Preseeds, user-data scripts and the commissioning scripts archive."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import tarfile

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from region.db.tokens import Token
from region.metadata import userdata
from region.metadata.userdata import (
    BUILTIN_SCRIPT_NAMES,
    ArchiveTooLarge,
    Script,
    build_scripts_archive,
    load_assets,
    merge_scripts,
)

TOKEN = Token(id=7, user_id=1, consumer_key="ck" * 9, consumer_secret="",
              token_key="tk" * 9, token_secret="s3cr3t" + "x" * 26)
MAAS_URL = "http://region.example:5240/MAAS/"


def datasource(preseed: str) -> dict[str, str]:
    """The MAAS datasource of a preseed we rendered (its values are JSON scalars)."""
    lines = preseed.splitlines()
    assert lines[:3] == ["#cloud-config", "datasource:", "  MAAS:"]
    found = {}
    for line in lines[3:]:
        match = re.fullmatch(r"    ([a-z_]+): (.*)", line)
        assert match, line
        found[match.group(1)] = json.loads(match.group(2))
    return found


def embedded_config(script: bytes) -> dict[str, str]:
    match = re.search(rb'CONFIG = json\.loads\(base64\.b64decode\("([A-Za-z0-9+/=]+)"\)\)', script)
    assert match
    return json.loads(base64.b64decode(match.group(1)))


def run_to_result(clock: Clock, coroutine: object) -> object:
    """Drive a coroutine that yields with deferLater(clock, 0) to its result."""
    d = Deferred.fromCoroutine(coroutine)  # type: ignore[arg-type]
    results: list[object] = []
    d.addBoth(results.append)
    for _ in range(10_000):
        if results:
            break
        clock.advance(0)
    assert results, "the coroutine never finished"
    return results[0]


class TestPreseeds(SynchronousTestCase):
    def test_node_preseed_hands_over_the_node_credentials(self) -> None:
        """The node preseed is a #cloud-config whose MAAS datasource carries the node's key."""
        found = datasource(userdata.node_preseed(MAAS_URL, TOKEN))
        self.assertEqual(found, {
            "metadata_url": "http://region.example:5240/MAAS/metadata/",
            "consumer_key": TOKEN.consumer_key, "token_key": TOKEN.token_key,
            "token_secret": TOKEN.token_secret})

    def test_metadata_url_is_maas_url_plus_metadata(self) -> None:
        """metadata_url is MAAS_URL + 'metadata/', whether or not MAAS_URL ends in '/'."""
        self.assertEqual(userdata.metadata_url("http://h/MAAS"), "http://h/MAAS/metadata/")
        self.assertEqual(userdata.metadata_url("http://h/MAAS/"), "http://h/MAAS/metadata/")

    def test_enlist_preseed_points_at_the_enlistment_endpoints_without_credentials(self) -> None:
        """The enlistment preseed names only the anonymous enlist/ metadata URL."""
        found = datasource(userdata.enlist_preseed(MAAS_URL))
        self.assertEqual(found, {"metadata_url": MAAS_URL + "metadata/enlist/"})


class TestUserData(SynchronousTestCase):
    def setUp(self) -> None:
        self.assets = load_assets()

    def test_commissioning_user_data_is_python_with_the_node_config(self) -> None:
        """Commissioning user-data is a Python script carrying the node's metadata config."""
        script = userdata.commissioning_user_data(self.assets, MAAS_URL, TOKEN)
        self.assertTrue(script.startswith(b"#!/usr/bin/env python3\n"))
        compile(script, "commissioning-user-data", "exec")
        self.assertEqual(embedded_config(script), {
            "metadata_url": MAAS_URL + "metadata/", "version": "latest",
            "consumer_key": TOKEN.consumer_key, "token_key": TOKEN.token_key,
            "token_secret": TOKEN.token_secret})

    def test_enlist_user_data_posts_to_the_api(self) -> None:
        """Enlistment user-data is a Python script that knows the API URL."""
        script = userdata.enlist_user_data(self.assets, MAAS_URL)
        compile(script, "enlist-user-data", "exec")
        self.assertEqual(embedded_config(script), {"api_url": MAAS_URL + "api/1.0/"})
        self.assertIn(b"nodes/?op=new", script)

    def test_poweroff_user_data_powers_off(self) -> None:
        """Poweroff user-data is a shell script that powers the machine off."""
        script = userdata.poweroff_user_data(self.assets)
        self.assertTrue(script.startswith(b"#!/bin/sh\n"))
        self.assertIn(b"\npoweroff\n", script)

    def test_builtin_scripts_are_the_1_8_set(self) -> None:
        """Every 1.8 built-in script ships, each with an interpreter line."""
        names = [script.name for script in self.assets.scripts]
        self.assertEqual(names, list(BUILTIN_SCRIPT_NAMES))
        self.assertEqual(names, sorted(names))
        for script in self.assets.scripts:
            self.assertTrue(script.content.startswith(b"#!"), script.name)

    def test_builtin_scripts_parse(self) -> None:
        """Every built-in script is valid sh (sh -n) or Python 3, as its first line says."""
        shell = shutil.which("sh")
        for script in self.assets.scripts:
            if script.content.startswith(b"#!/bin/sh"):
                if shell is None:
                    continue
                checked = subprocess.run([shell, "-n"], input=script.content,
                                         capture_output=True, timeout=30)
                self.assertEqual(checked.returncode, 0, (script.name, checked.stderr))
            else:
                self.assertTrue(script.content.startswith(b"#!/usr/bin/env python3"))
                compile(script.content, script.name, "exec")


class TestScriptsArchive(SynchronousTestCase):
    def test_archive_holds_executable_scripts_in_name_order(self) -> None:
        """The archive has every script under commissioning.d/, executable, in name order."""
        clock = Clock()
        scripts = merge_scripts([Script("00-maas-01-lshw", b"#!/bin/sh\nlshw\n")],
                                [Script("50-custom", b"\x00binary\xff"),
                                 Script("10-first", b"#!/bin/sh\n")])
        archive = run_to_result(clock, build_scripts_archive(scripts, clock, mtime=1234.5))
        assert isinstance(archive, bytes)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            members = tar.getmembers()
            self.assertEqual([m.name for m in members], [
                "commissioning.d/00-maas-01-lshw", "commissioning.d/10-first",
                "commissioning.d/50-custom"])
            self.assertTrue(all(m.mode == 0o755 and m.isfile() for m in members))
            self.assertEqual(members[0].mtime, 1234)
            extracted = tar.extractfile(members[2])
            assert extracted is not None
            self.assertEqual(extracted.read(), b"\x00binary\xff")

    def test_archive_yields_to_the_reactor_between_members(self) -> None:
        """Building the archive waits on the clock after each member instead of blocking."""
        clock = Clock()
        d = Deferred.fromCoroutine(build_scripts_archive(
            [Script("a", b"1"), Script("b", b"2")], clock, mtime=0))
        results: list[object] = []
        d.addBoth(results.append)
        self.assertEqual(results, [])
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(0)  # runs every call due now, including the next member's
        self.assertEqual([type(result) for result in results], [bytes])

    def test_builtin_script_wins_a_name_clash(self) -> None:
        """An uploaded script cannot replace a built-in one of the same name."""
        merged = merge_scripts([Script("00-maas-01-lshw", b"builtin")],
                               [Script("00-maas-01-lshw", b"uploaded")])
        self.assertEqual(merged, [Script("00-maas-01-lshw", b"builtin")])

    def test_oversized_scripts_are_refused(self) -> None:
        """Scripts adding up to more than the cap raise ArchiveTooLarge."""
        d = Deferred.fromCoroutine(build_scripts_archive(
            [Script("a", b"x" * 600), Script("b", b"y" * 600)], Clock(), mtime=0, limit=1000))
        self.failureResultOf(d, ArchiveTooLarge)

    def test_listings_are_sorted_and_newline_joined(self) -> None:
        """Metadata listings are sorted and joined with newlines."""
        self.assertEqual(userdata.text_listing(["user-data", "meta-data"]),
                         "meta-data\nuser-data")
