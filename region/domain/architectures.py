"""
Architectures: names of the form ``<arch>/<subarch>`` (``amd64/generic``).

MAAS 1.8 accepted a node's architecture only if some cluster had boot images
for it.  Before any cluster has reported, we still know the architectures
1.8's driver registry and the Ubuntu image streams of 2015 described, so a
fresh region can enlist nodes.  :data:`BUILTIN_ARCHITECTURES` is that list:

* ``amd64`` and ``i386``: ``generic`` plus the trusty hardware-enablement
  kernels named after later releases, ``hwe-p`` … ``hwe-v``;
* ``armhf``: ``generic``, ``highbank`` (Calxeda), ``keystone`` (TI), plus
  ``hwe-t`` … ``hwe-v``;
* ``arm64``: ``generic``, ``xgene-uboot`` and ``xgene-uboot-mustang``
  (Applied Micro X-Gene), plus ``hwe-t`` … ``hwe-v``;
* ``ppc64el``: ``generic`` plus ``hwe-t`` … ``hwe-v`` (trusty was the first
  release for it).

Clusters may report more (``extra``); those are simply added.
"""

from __future__ import annotations

from collections.abc import Iterable

_HWE_FROM_PRECISE = tuple(f"hwe-{letter}" for letter in "pqrstuv")
_HWE_FROM_TRUSTY = tuple(f"hwe-{letter}" for letter in "tuv")

#: Subarchitectures of each primary architecture, generic first.
SUBARCHITECTURES: dict[str, tuple[str, ...]] = {
    "amd64": ("generic", *_HWE_FROM_PRECISE),
    "i386": ("generic", *_HWE_FROM_PRECISE),
    "armhf": ("generic", "highbank", "keystone", *_HWE_FROM_TRUSTY),
    "arm64": ("generic", "xgene-uboot", "xgene-uboot-mustang", *_HWE_FROM_TRUSTY),
    "ppc64el": ("generic", *_HWE_FROM_TRUSTY),
}

#: Every ``arch/subarch`` known without any cluster, sorted.
BUILTIN_ARCHITECTURES: tuple[str, ...] = tuple(sorted(
    f"{arch}/{subarch}" for arch, subarches in SUBARCHITECTURES.items() for subarch in subarches
))

#: juju asks for ``arm``; 1.8 read it as ``armhf`` unless an ``arm`` architecture exists.
_ALIASES = {"arm": "armhf"}


class ArchitectureError(ValueError):
    """An architecture that cannot be used; the message is 1.8's."""


def normalise_architecture(arch: str | None, subarch: str | None) -> str:
    """The ``arch/subarch`` a client means by its ``architecture`` and
    ``subarchitecture`` parameters (``nodes op=new``, 1.8's ``create_node``):

    * ``architecture`` with a ``/`` is used as it is;
    * ``architecture`` without one, plus ``subarchitecture``, are joined;
    * ``architecture`` alone gets ``/generic``.

    The result is not checked against the known architectures (see
    :func:`is_known`).

    :raises ArchitectureError: ``Subarchitecture cannot be specified twice.``
        when both name a subarchitecture; ``This field is required.`` when
        there is no architecture at all.
    """
    arch = (arch or "").strip()
    subarch = (subarch or "").strip()
    if not arch:
        raise ArchitectureError("This field is required.")
    if "/" in arch:
        if subarch:
            raise ArchitectureError("Subarchitecture cannot be specified twice.")
        return arch
    return f"{arch}/{subarch or 'generic'}"


def known_architectures(extra: Iterable[str] = ()) -> list[str]:
    """The built-in architectures plus extra (what clusters report), sorted, once each."""
    return sorted(set(BUILTIN_ARCHITECTURES).union(extra))


def is_known(arch: str, extra: Iterable[str] = ()) -> bool:
    """True when arch (a full ``arch/subarch``) is built in or in extra."""
    return arch in BUILTIN_ARCHITECTURES or arch in set(extra)


def primary(arch: str) -> str:
    """The part of ``arch/subarch`` before the slash."""
    return arch.split("/", 1)[0]


def expand_wildcard(arch_spec: str, usable: Iterable[str]) -> list[str]:
    """The usable architectures an acquire ``arch`` constraint selects, sorted.

    * a full ``arch/subarch`` that is usable selects itself;
    * a primary architecture (``amd64``) selects every usable ``amd64/*``;
    * ``arm`` selects every ``armhf/*`` when no usable architecture is
      called ``arm`` itself (juju's generic name for 32-bit ARM).

    :raises ArchitectureError: ``Architecture not recognised.`` otherwise.
    """
    usable = sorted(set(usable))
    if arch_spec in usable:
        return [arch_spec]
    by_primary: dict[str, list[str]] = {}
    for arch in usable:
        by_primary.setdefault(primary(arch), []).append(arch)
    if arch_spec in by_primary:
        return by_primary[arch_spec]
    alias = _ALIASES.get(arch_spec)
    if alias is not None and alias in by_primary:
        return by_primary[alias]
    raise ArchitectureError("Architecture not recognised.")
