"""
``nodegroups/`` and ``nodegroups/{uuid}/``: clusters (1.8's NodeGroup).

A cluster is identified by its UUID; the placeholder ``master`` stands for
the first cluster until one registers.  Status: 0 pending (a new cluster
waiting for an administrator), 1 accepted, 2 rejected.

Decisions where 1.8 leaves room:

- ``op=accept`` / ``op=reject`` need at least one ``uuid`` (400 otherwise)
  and change all of them or none: any unknown uuid is a 404 naming it.
  Accept works from any state (it re-enables a rejected cluster).
- ``op=describe_power_types`` asks every connected, accepted cluster (15 s at
  most), merges by name (the first answer for a name wins) and sorts by
  description.  With no cluster connected, or none answering, it answers
  from the power types this MAAS ships (``power.registry``) — the same
  drivers its clusters run — so that clients can always build their forms.
- ``op=list_nodes`` and ``op=details`` are for administrators and the
  cluster's own worker credentials, as 1.8's ``check_nodegroup_access``;
  ``op=report_download_progress`` for the worker only (403 otherwise).
- Calls to clusters: see ``cluster_calls`` (503 + Retry-After when the
  cluster cannot be reached, 501 when it does not support the command yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.logger import Logger

from power.registry import describe_power_types as local_power_types
from region.api.context import RequestContext
from region.api.errors import APIError, Forbidden, NotFound, ServiceUnavailable, ValidationError
from region.api.handlers.cluster_calls import (
    ClusterNotSupported,
    call,
    call_each,
    connected_uuids,
)
from region.api.registry import ADMIN, ANONYMOUS, API_PREFIX, INT, Handler, Param
from region.api.responses import Response
from region.db import nodegroups as db_nodegroups
from region.db import results as db_results
from region.db.nodegroups import ClusterState, Nodegroup
from region.db.pool import Tx
from region.domain import bson
from region.domain.clusters import check_cluster_name, check_dns_name, check_status
from region.domain.hardware_probe import MODELS, PARAMETERS, ProbeErrors, enlist_request
from region.rpc.clusterops import boot_sources, proxies
from region.rpc.registration import WIRE_STATUS
from rpc.commands.cluster import DescribePowerTypes, ImportBootImages

log = Logger(namespace="region.api.nodegroups")

NODEGROUPS = Handler("NodeGroupsHandler", "nodegroups/",
                     "Manage the collection of all the nodegroups in this MAAS.")
NODEGROUP = Handler(
    "NodeGroupHandler", "nodegroups/{uuid}/",
    "Manage a NodeGroup.\n\nNodeGroup is the internal name for a cluster.  The NodeGroup "
    "is identified by its UUID, a random identifier that looks something like "
    "5977f6ab-9160-4352-b4db-d71a99066c4f.  Each NodeGroup has its own uuid.")

#: Seconds describe_power_types waits for the clusters' answers.
DESCRIBE_TIMEOUT = 15.0
_MAX_BIGINT = 2**63 - 1


def nodegroup_json(nodegroup: Nodegroup) -> dict[str, Any]:
    return {
        "uuid": nodegroup.uuid,
        "status": nodegroup.status,
        "name": nodegroup.name,
        "cluster_name": nodegroup.cluster_name,
        "resource_uri": f"{API_PREFIX}nodegroups/{nodegroup.uuid}/",
    }


async def load(ctx: RequestContext, uuid: str) -> Nodegroup:
    """The cluster uuid, or 404."""
    found = await ctx.db.transaction(lambda tx: db_nodegroups.get_by_uuid(tx, uuid))
    if found is None:
        raise NotFound()
    return found


def is_worker_of(ctx: RequestContext, nodegroup: Nodegroup) -> bool:
    """True when the request carries the cluster's own worker credentials."""
    return (ctx.token is not None and nodegroup.token_id is not None
            and ctx.token.id == nodegroup.token_id)


def check_admin_or_worker(ctx: RequestContext, nodegroup: Nodegroup) -> None:
    if not (ctx.is_admin or is_worker_of(ctx, nodegroup)):
        raise Forbidden("Only administrators and the cluster's own worker credentials may "
                        "do this.")


def _apply_states(ctx: RequestContext, uuids: list[str], state: ClusterState) -> None:
    """Tell this process's connections at once (others re-read within seconds)."""
    clusters = ctx.services.extras.get("clusters")
    if clusters is not None:
        for uuid in uuids:
            clusters.set_status(uuid, WIRE_STATUS[state])


# -- nodegroups/ --------------------------------------------------------------


@NODEGROUPS.operation("GET", "list", auth=ANONYMOUS)
async def list_nodegroups(ctx: RequestContext) -> list[dict[str, Any]]:
    """List nodegroups."""
    return [nodegroup_json(ng) for ng in await ctx.db.transaction(db_nodegroups.list_all)]


async def _set_states(ctx: RequestContext, uuids: list[str], state: ClusterState) -> None:
    if not uuids:
        raise ValidationError.field("uuid", "This field is required.")

    async def work(tx: Tx) -> None:
        missing = await db_nodegroups.set_statuses(tx, uuids, state)
        if missing:
            raise NotFound(f"Unknown cluster(s): {', '.join(missing)}; nothing was changed.")

    await ctx.db.transaction(work)
    _apply_states(ctx, sorted(set(uuids)), state)
    log.info("Clusters {uuids} are now {state} (by {user})", uuids=", ".join(sorted(set(uuids))),
             state=state.name.lower(), user=ctx.user.username if ctx.user else "?")


_UUIDS = Param("uuid", multiple=True, doc="The UUID (or list of UUIDs) of the nodegroup(s).")


@NODEGROUPS.operation("POST", "accept", auth=ADMIN, params=[_UUIDS])
async def accept(ctx: RequestContext, uuid: list[str]) -> Response:
    """Accept nodegroup enlistment(s).

    Returns 404 if a nodegroup (cluster) is not found; then none is changed.
    """
    await _set_states(ctx, uuid, ClusterState.ACCEPTED)
    return Response.text("Nodegroup(s) accepted.")


@NODEGROUPS.operation("POST", "reject", auth=ADMIN, params=[_UUIDS])
async def reject(ctx: RequestContext, uuid: list[str]) -> Response:
    """Reject nodegroup enlistment(s).

    Returns 404 if a nodegroup (cluster) is not found; then none is changed.
    """
    await _set_states(ctx, uuid, ClusterState.REJECTED)
    return Response.text("Nodegroup(s) rejected.")


@NODEGROUPS.operation("GET", "describe_power_types")
async def describe_power_types(ctx: RequestContext) -> list[dict[str, Any]]:
    """Query all the cluster controllers for power information.

    Returns a list of ``{name, description, fields}``, sorted by description.
    """
    connected = set(connected_uuids(ctx))
    if not connected:
        return local_power_types()
    every = await ctx.db.transaction(db_nodegroups.list_all)
    targets = [ng for ng in every if ng.uuid in connected]
    merged = merge_power_types(await call_each(
        ctx, targets, DescribePowerTypes, timeout=DESCRIBE_TIMEOUT,
        action="describe its power types"))
    if merged is None:
        log.warn("No connected cluster described its power types; answering with the "
                 "region's own list")
        return local_power_types()
    return merged


def merge_power_types(answers: Sequence[dict[str, Any] | APIError]
                      ) -> list[dict[str, Any]] | None:
    """
    The power types of several clusters' DescribePowerTypes answers, merged
    by name (the first cluster's entry for a name wins) and sorted by
    description; None when no cluster answered usefully.  Failed calls
    (APIError) are skipped: their cause is logged where they failed.
    """
    merged: dict[str, dict[str, Any]] = {}
    answered = False
    for answer in answers:
        if isinstance(answer, APIError):
            continue
        power_types = answer.get("power_types")
        if not isinstance(power_types, list):
            continue
        answered = True
        for entry in power_types:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                merged.setdefault(entry["name"], entry)
    if not answered:
        return None
    return sorted(merged.values(), key=lambda entry: str(entry.get("description", "")))


async def _import_arguments(ctx: RequestContext) -> dict[str, Any]:
    """ImportBootImages' arguments: the region's image mirror and the proxy."""
    maas_url = getattr(ctx.services.config, "effective_maas_url", None) or (
        ctx.base_uri.removesuffix("api/1.0/"))
    arguments: dict[str, Any] = {"sources": boot_sources(maas_url, with_os=True)}
    proxy = await proxies(ctx.db)
    if proxy:
        arguments.update(http_proxy=proxy["http"], https_proxy=proxy["https"])
    return arguments


_IMPORT_ACTION = "import boot images"
#: Said when a cluster answers that it cannot import images (yet).
IMPORT_NOT_YET = ("Importing boot images on cluster controllers is not available yet in this "
                  "version of MAAS; it comes in a later release. The cluster keeps the boot "
                  "images it has.")


@NODEGROUPS.operation("POST", "import_boot_images", auth=ADMIN)
async def import_boot_images_everywhere(ctx: RequestContext) -> Response:
    """Import the boot images on all the accepted cluster controllers.

    Answers 503 (Retry-After) when no accepted cluster is connected; clusters
    that are accepted but not connected are named in the answer.
    """
    every = await ctx.db.transaction(db_nodegroups.list_all)
    accepted = [ng for ng in every if ng.status == ClusterState.ACCEPTED]
    connected = set(connected_uuids(ctx))
    targets = [ng for ng in accepted if ng.uuid in connected]
    skipped = [ng.uuid for ng in accepted if ng.uuid not in connected]
    if not targets:
        raise ServiceUnavailable(
            "No accepted cluster controller is connected to the region, so no boot images "
            "can be imported; start maas-cluster on the rack controllers (and accept them "
            "with 'nodegroups op=accept'), then try again.")
    results = await call_each(ctx, targets, ImportBootImages, action=_IMPORT_ACTION,
                              unsupported=IMPORT_NOT_YET, **await _import_arguments(ctx))
    started = [ng.uuid for ng, result in zip(targets, results, strict=True)
               if not isinstance(result, APIError)]
    failures = [result for result in results if isinstance(result, APIError)]
    if started and not failures and not skipped:
        return Response.text("Import of boot images started on all cluster controllers.")
    lines = [f"Import of boot images started on cluster {uuid}." for uuid in started]
    lines += [failure.message for failure in failures]
    lines += [f"Cluster {uuid} is not connected; no boot images were imported there."
              for uuid in skipped]
    text = "\n".join(lines)
    if started:
        return Response.text(text)
    if any(failure.headers.get("Retry-After") for failure in failures):
        raise ServiceUnavailable(text)
    if all(isinstance(failure, ClusterNotSupported) for failure in failures):
        raise ClusterNotSupported(text)
    raise ServiceUnavailable(text, retry_after=None)


# -- nodegroups/{uuid}/ -------------------------------------------------------


@NODEGROUP.operation("GET")
async def read(ctx: RequestContext, uuid: str) -> dict[str, Any]:
    """GET a node group.

    Returns 404 if the nodegroup (cluster) is not found.
    """
    return nodegroup_json(await load(ctx, uuid))


@NODEGROUP.operation("PUT", auth=ADMIN, params=[
    Param("name", dest="new_name", doc="The new DNS name for this cluster."),
    Param("cluster_name", doc="The new name for this cluster."),
    Param("status", INT, doc="The new status for this cluster (0 pending, 1 accepted, "
                             "2 rejected)."),
])
async def update(ctx: RequestContext, uuid: str, new_name: str | None,
                 cluster_name: str | None, status: int | None) -> dict[str, Any]:
    """Update a specific cluster.

    Returns 404 if the nodegroup (cluster) is not found.
    """

    async def work(tx: Tx) -> tuple[Nodegroup, bool]:
        nodegroup = await db_nodegroups.get_by_uuid(tx, uuid, for_update=True)
        if nodegroup is None:
            raise NotFound()
        errors: dict[str, list[str]] = {}
        name = nodegroup.name if new_name is None else new_name
        if new_name is not None and new_name != nodegroup.name:
            problem = check_dns_name(new_name)
            if problem is None and await db_nodegroups.dns_zone_in_use(tx, nodegroup.id):
                problem = f"Can't rename DNS zone to {new_name}, nodes are in use."
            if problem:
                errors["name"] = [problem]
        title = nodegroup.cluster_name if cluster_name is None else cluster_name
        if cluster_name is not None and cluster_name != nodegroup.cluster_name:
            problem = check_cluster_name(cluster_name)
            if problem is None and await db_nodegroups.cluster_name_taken(
                    tx, nodegroup.id, cluster_name):
                problem = "Node group with this Cluster name already exists."
            if problem:
                errors["cluster_name"] = [problem]
        state = nodegroup.status if status is None else status
        if status is not None and (problem := check_status(status)):
            errors["status"] = [problem]
        if errors:
            raise ValidationError(errors)
        updated = await db_nodegroups.update_settings(
            tx, nodegroup.id, name=name, cluster_name=title, status=ClusterState(state))
        return updated, updated.status != nodegroup.status

    updated, status_changed = await ctx.db.transaction(work)
    if status_changed:
        _apply_states(ctx, [updated.uuid], updated.state)
    return nodegroup_json(updated)


@NODEGROUP.operation("GET", "list_nodes")
async def list_nodes(ctx: RequestContext, uuid: str) -> list[str]:
    """Get the list of node ids that are part of this group.

    Returns 404 if the nodegroup (cluster) is not found, 403 unless the caller
    is an administrator or the cluster's worker.
    """
    nodegroup = await load(ctx, uuid)
    check_admin_or_worker(ctx, nodegroup)
    return await ctx.db.transaction(lambda tx: db_nodegroups.node_ids(tx, nodegroup.id))


@NODEGROUP.operation("POST", "details", params=[
    Param("system_ids", multiple=True, doc="System ids of nodes for which to get system "
                                           "details."),
])
async def details(ctx: RequestContext, uuid: str, system_ids: list[str]) -> Response:
    """Obtain various system details for each node specified.

    For example, LLDP and ``lshw`` XML dumps.  Returns a
    ``{system_id: {detail_type: xml, ...}, ...}`` map as BSON
    (``application/bson``).  Nodes not in the nodegroup are ignored.  Returns
    404 if the nodegroup (cluster) is not found, 403 unless the caller is an
    administrator or the cluster's worker.
    """
    nodegroup = await load(ctx, uuid)
    check_admin_or_worker(ctx, nodegroup)

    async def work(tx: Tx) -> dict[str, dict[str, bytes | None]]:
        members = await db_nodegroups.node_ids_among(tx, nodegroup.id, system_ids)
        return await db_results.details_many(tx, members) if members else {}

    found = await ctx.db.transaction(work)
    document = {
        system_id: {key: (None if value is None else bson.Binary(value))
                    for key, value in entry.items()}
        for system_id, entry in found.items()
    }
    return Response(bson.encode(document), 200, "application/bson")


@NODEGROUP.operation("POST", "import_boot_images", auth=ADMIN)
async def import_boot_images(ctx: RequestContext, uuid: str) -> Response:
    """Import the pxe files on this cluster controller.

    Returns 404 if the nodegroup (cluster) is not found, 503 (Retry-After) if
    it is not connected, 501 if its controller cannot import images yet.
    """
    nodegroup = await load(ctx, uuid)
    await call(ctx, nodegroup, ImportBootImages, action=_IMPORT_ACTION,
               unsupported=IMPORT_NOT_YET, **await _import_arguments(ctx))
    return Response.text(f"Import of boot images started on cluster {nodegroup.uuid!r}.")


@NODEGROUP.operation("POST", "report_download_progress", params=[
    Param("filename", required=True, doc="Arbitrary identifier for the file being downloaded."),
    Param("size", INT, doc="Size of the file, in bytes, once known; it cannot change."),
    Param("bytes_downloaded", INT, doc="Bytes downloaded so far; omitted from the first "
                                       "report of a download, given in every later one."),
    Param("error", doc="Why the download failed, if it did."),
])
async def report_download_progress(ctx: RequestContext, uuid: str, filename: str,
                                   size: int | None, bytes_downloaded: int | None,
                                   error: str | None) -> dict[str, Any]:
    """Report progress of a download.

    Only the cluster's own worker credentials may call this (403 otherwise).
    A report without ``bytes_downloaded`` starts a new download of filename;
    later reports update it.  Returns the download as recorded.
    """
    nodegroup = await load(ctx, uuid)
    if not is_worker_of(ctx, nodegroup):
        raise Forbidden("Only the cluster's own worker credentials may report its downloads.")
    errors: dict[str, list[str]] = {}
    for field, value in (("size", size), ("bytes_downloaded", bytes_downloaded)):
        if value is not None and not 0 <= value <= _MAX_BIGINT:
            errors[field] = ["Enter a number of bytes, 0 or more."]
    if errors:
        raise ValidationError(errors)

    async def work(tx: Tx) -> db_nodegroups.DownloadProgress:
        if bytes_downloaded is None:
            return await db_nodegroups.start_download(tx, nodegroup.id, filename, size=size,
                                                      error=error or "")
        latest = await db_nodegroups.latest_download(tx, nodegroup.id, filename)
        if latest is None:
            raise ValidationError.field(
                "bytes_downloaded", f"No download of {filename!r} has been reported yet; "
                "report its start without bytes_downloaded first.")
        if size is not None and latest.size is not None and size != latest.size:
            raise ValidationError.field(
                "size", f"The size of {filename!r} was given as {latest.size}; it cannot "
                "change.")
        known_size = latest.size if size is None else size
        if known_size is not None and bytes_downloaded > known_size:
            raise ValidationError.field(
                "bytes_downloaded", f"{bytes_downloaded} bytes downloaded exceeds the file's "
                f"size ({known_size}).")
        return await db_nodegroups.update_download(
            tx, latest.id, size=known_size, bytes_downloaded=bytes_downloaded,
            error=error or "")

    recorded = await ctx.db.transaction(work)
    return {"filename": recorded.filename, "size": recorded.size,
            "bytes_downloaded": recorded.bytes_downloaded, "error": recorded.error}


# -- Probing chassis and hypervisors ------------------------------------------


async def _probe_and_enlist(ctx: RequestContext, uuid: str, model: str,
                            values: dict[str, str | None]) -> Response:
    nodegroup = await load(ctx, uuid)
    assert ctx.user is not None  # an ADMIN operation
    try:
        command, arguments = enlist_request(model, values, ctx.user.username)
    except ProbeErrors as error:
        raise ValidationError(error.errors) from None
    what = MODELS[model][1]
    await call(ctx, nodegroup, command, action=f"probe and enlist {what}", **arguments)
    log.info("Cluster {uuid} asked to probe and enlist {model} hardware (by {user})",
             uuid=nodegroup.uuid, model=model, user=ctx.user.username)
    return Response.text(f"Cluster {nodegroup.uuid} is probing {what}; the nodes it finds "
                         "will be enlisted.")


_PROBE_PARAMS = [Param(name) for name in PARAMETERS]


@NODEGROUP.operation("POST", "probe_and_enlist_hardware", auth=ADMIN, params=[
    Param("model", required=True, doc="The type of hardware: " + ", ".join(sorted(MODELS))
                                      + "."),
    *_PROBE_PARAMS,
])
async def probe_and_enlist_hardware(ctx: RequestContext, uuid: str, model: str,
                                    **values: str | None) -> Response:
    """Add special hardware types.

    ``model`` is one of seamicro15k (mac, username, password, optional
    power_control), virsh and powerkvm (power_address, optional power_pass and
    prefix_filter), vmware (host, username, password, optional protocol, port
    and prefix_filter), esxi (address, username, password, optional
    prefix_filter), mscm (host, username, password), msftocs (ip, port,
    username, password) or ucsm (url, username, password); ``accept_all=true``
    commissions every node enlisted.  The cluster probes in the background.

    Returns 404 if the nodegroup (cluster) is not found, 400 if required
    parameters are missing, 503 (Retry-After) if the cluster is not
    connected, 501 if its controller cannot probe that model yet.
    """
    return await _probe_and_enlist(ctx, uuid, model, values)


@NODEGROUP.operation("POST", "probe_and_enlist_mscm", auth=ADMIN, params=[
    Param("host", doc="IP Address for the MSCM."), Param("username"), Param("password"),
    Param("accept_all", doc="If true, all enlisted nodes will be commissioned."),
])
async def probe_and_enlist_mscm(ctx: RequestContext, uuid: str,
                                **values: str | None) -> Response:
    """Add the nodes from a Moonshot HP iLO Chassis Manager (MSCM).

    Deprecated in favour of probe_and_enlist_hardware (model=mscm).
    """
    return await _probe_and_enlist(ctx, uuid, "mscm", values)


@NODEGROUP.operation("POST", "probe_and_enlist_ucsm", auth=ADMIN, params=[
    Param("url", doc="The URL of the UCS Manager API."), Param("username"), Param("password"),
    Param("accept_all", doc="If true, all enlisted nodes will be commissioned."),
])
async def probe_and_enlist_ucsm(ctx: RequestContext, uuid: str,
                                **values: str | None) -> Response:
    """Add the nodes from a Cisco UCS Manager.

    Deprecated in favour of probe_and_enlist_hardware (model=ucsm).
    """
    return await _probe_and_enlist(ctx, uuid, "ucsm", values)
