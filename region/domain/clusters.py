"""
What an administrator may set on a cluster (PUT ``nodegroups/<uuid>/``).

- ``name`` is the DNS zone of the cluster's nodes: a domain name of labels of
  letters, digits and hyphens (1 to 63 characters each, no hyphen at either
  end), at most 253 characters, no trailing dot.
- ``cluster_name`` is the name people see: 1 to 100 printable characters
  (1.8's limit), unique among clusters (checked against the database).
- ``status``: 0 pending, 1 accepted, 2 rejected.

Each ``check_*`` returns an error message, or None when the value is good.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
MAX_DOMAIN_LENGTH = 253
MAX_CLUSTER_NAME_LENGTH = 100
STATUSES = {0: "pending", 1: "accepted", 2: "rejected"}


def check_dns_name(name: str) -> str | None:
    labels = name.split(".")
    if (not name or len(name) > MAX_DOMAIN_LENGTH
            or not all(_LABEL.fullmatch(label) for label in labels)):
        return (f"{name!r} is not a valid DNS domain name: labels of letters, digits and "
                "hyphens (not at either end), separated by dots, e.g. 'maas' or "
                "'rack1.example.com'.")
    return None


def check_cluster_name(cluster_name: str) -> str | None:
    if not cluster_name.strip():
        return "This field cannot be blank."
    if len(cluster_name) > MAX_CLUSTER_NAME_LENGTH:
        return (f"Ensure this value has at most {MAX_CLUSTER_NAME_LENGTH} characters "
                f"(it has {len(cluster_name)}).")
    if not cluster_name.isprintable():
        return "A cluster name cannot contain control characters."
    return None


def check_status(status: int) -> str | None:
    if status not in STATUSES:
        return (f"Select a valid choice. {status} is not one of the available choices "
                "(0 pending, 1 accepted, 2 rejected).")
    return None
