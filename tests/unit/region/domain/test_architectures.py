"""Architecture names: what enlistment accepts and what acquire's arch selects."""

from __future__ import annotations

import pytest

from region.domain.architectures import (
    BUILTIN_ARCHITECTURES,
    ArchitectureError,
    expand_wildcard,
    is_known,
    known_architectures,
    normalise_architecture,
)


@pytest.mark.parametrize("arch", [
    "amd64/generic", "amd64/hwe-p", "amd64/hwe-t", "amd64/hwe-v", "i386/generic", "i386/hwe-s",
    "armhf/generic", "armhf/highbank", "armhf/keystone", "arm64/generic", "arm64/xgene-uboot",
    "arm64/xgene-uboot-mustang", "ppc64el/generic", "ppc64el/hwe-t",
])
def test_builtin_architectures_include_the_2015_set(arch: str) -> None:
    """Known without any cluster: the five primaries with their usual subarchitectures."""
    assert arch in BUILTIN_ARCHITECTURES
    assert is_known(arch)


def test_every_primary_has_generic() -> None:
    """Each primary architecture can be enlisted as <arch>/generic."""
    primaries = {arch.split("/")[0] for arch in BUILTIN_ARCHITECTURES}
    assert primaries == {"amd64", "i386", "armhf", "arm64", "ppc64el"}
    assert all(f"{p}/generic" in BUILTIN_ARCHITECTURES for p in primaries)


@pytest.mark.parametrize("arch", ["amd64", "amd64/", "sparc/generic", "ppc64el/hwe-p",
                                  "armhf/xgene-uboot", "AMD64/generic"])
def test_unlisted_names_are_unknown(arch: str) -> None:
    """Bare primaries, empty subarchitectures, foreign or mismatched pairs are unknown."""
    assert not is_known(arch)


def test_clusters_can_add_architectures() -> None:
    """What clusters report extends the known list."""
    assert is_known("s390x/generic", ["s390x/generic"])
    assert known_architectures(["s390x/generic", "amd64/generic"]) == sorted(
        {*BUILTIN_ARCHITECTURES, "s390x/generic"})


@pytest.mark.parametrize(("arch", "subarch", "expected"), [
    ("amd64", None, "amd64/generic"),
    ("amd64", "", "amd64/generic"),
    ("armhf", "highbank", "armhf/highbank"),
    ("i386/hwe-t", None, "i386/hwe-t"),
    ("i386/hwe-t", "", "i386/hwe-t"),
    (" arm64 ", "xgene-uboot", "arm64/xgene-uboot"),
])
def test_normalise_architecture(arch: str, subarch: str | None, expected: str) -> None:
    """§5.1: a slash means as-is; otherwise join with the subarchitecture or generic."""
    assert normalise_architecture(arch, subarch) == expected


def test_subarchitecture_twice_is_an_error() -> None:
    """An arch/subarch plus a subarchitecture parameter is 1.8's 400."""
    with pytest.raises(ArchitectureError, match=r"^Subarchitecture cannot be specified twice\.$"):
        normalise_architecture("amd64/generic", "generic")


@pytest.mark.parametrize("arch", [None, "", "  "])
def test_missing_architecture_is_required(arch: str | None) -> None:
    """No architecture at all is the form's "This field is required."."""
    with pytest.raises(ArchitectureError, match=r"^This field is required\.$"):
        normalise_architecture(arch, "generic")


USABLE = ["amd64/generic", "amd64/hwe-t", "armhf/highbank", "armhf/generic", "i386/generic"]


@pytest.mark.parametrize(("spec", "expected"), [
    ("amd64/hwe-t", ["amd64/hwe-t"]),
    ("amd64", ["amd64/generic", "amd64/hwe-t"]),
    ("armhf", ["armhf/generic", "armhf/highbank"]),
    ("arm", ["armhf/generic", "armhf/highbank"]),
    ("i386", ["i386/generic"]),
])
def test_expand_wildcard(spec: str, expected: list[str]) -> None:
    """§5.3: exact names select themselves, primaries select all their usable
    subarchitectures, and juju's "arm" means armhf."""
    assert expand_wildcard(spec, USABLE) == expected


def test_arm_means_arm_when_an_arm_architecture_exists() -> None:
    """"arm" is only an alias while no usable architecture is called arm."""
    assert expand_wildcard("arm", [*USABLE, "arm/generic"]) == ["arm/generic"]


@pytest.mark.parametrize("spec", ["ppc64el", "ppc64el/generic", "amd64/hwe-v", "amd", "",
                                  "arm64"])
def test_unusable_or_unknown_specs_are_not_recognised(spec: str) -> None:
    """Anything not usable is 1.8's "Architecture not recognised."."""
    with pytest.raises(ArchitectureError, match=r"^Architecture not recognised\.$"):
        expand_wildcard(spec, USABLE)


def test_arm_without_armhf_is_not_recognised() -> None:
    """The alias needs usable armhf architectures to expand to."""
    with pytest.raises(ArchitectureError):
        expand_wildcard("arm", ["amd64/generic"])
