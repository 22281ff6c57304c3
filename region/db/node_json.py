"""
The MAAS 1.8 node representation, rendered by PostgreSQL.

Listing thousands of nodes is the API's hottest path, so the JSON of a node
is built in SQL (``json_build_object`` with correlated subqueries on indexed
child tables) and passed to the client untouched: the region never decodes
and re-encodes it.  Keys and their order follow 1.8's ``DISPLAYED_NODE_FIELDS``.
"""

from __future__ import annotations

#: Statuses MAAS 1.8 reports as DEPLOYED (6) in the ``status`` field.
FOLDED_STATUSES = (6, 9, 10, 11, 12, 13, 14, 15)

_NODE_URI = "'/MAAS/api/1.0/nodes/' || n.system_id || '/'"

#: The FQDN of a node (1.8: a hostname with no domain gets its cluster's zone name).
FQDN = ("(CASE WHEN strpos(n.hostname, '.') > 0 THEN n.hostname "
        "ELSE n.hostname || '.' || g.name END)")

#: One node's JSON document, given aliases n (nodes), g (nodegroups),
#: z (zones) and u (users, left-joined on the owner).
NODE_DOCUMENT = f"""
json_build_object(
    'system_id', n.system_id,
    'hostname', {FQDN},
    'owner', u.username,
    'macaddress_set', COALESCE((
        SELECT json_agg(json_build_object(
                   'mac_address', m.mac::text,
                   'resource_uri', {_NODE_URI} || 'macs/' || m.mac::text || '/')
               ORDER BY m.id)
          FROM macaddresses m WHERE m.node_id = n.id), '[]'::json),
    'pxe_mac', CASE WHEN n.pxe_mac IS NULL THEN NULL ELSE json_build_object(
        'mac_address', n.pxe_mac::text,
        'resource_uri', {_NODE_URI} || 'macs/' || n.pxe_mac::text || '/') END,
    'architecture', n.architecture,
    'cpu_count', n.cpu_count,
    'memory', n.memory,
    'swap_size', n.swap_size,
    'storage', COALESCE((SELECT sum(b.size) FROM blockdevices b WHERE b.node_id = n.id),
                        0)::bigint / 1000000,
    'status', CASE WHEN n.status IN {FOLDED_STATUSES} THEN 6 ELSE n.status END,
    'substatus', n.status,
    'osystem', n.osystem,
    'distro_series', n.distro_series,
    'boot_type', n.boot_type,
    'netboot', n.netboot,
    'power_type', n.power_type,
    'power_state', n.power_state,
    'tag_names', COALESCE((
        SELECT json_agg(t.name ORDER BY t.name)
          FROM node_tags nt JOIN tags t ON t.id = nt.tag_id
         WHERE nt.node_id = n.id), '[]'::json),
    'ip_addresses', '[]'::json,
    'routers', CASE WHEN n.routers IS NULL THEN NULL ELSE to_json(n.routers::text[]) END,
    'zone', json_build_object(
        'name', z.name, 'description', z.description,
        'resource_uri', '/MAAS/api/1.0/zones/' || z.name || '/'),
    'disable_ipv4', n.disable_ipv4,
    'constraint_map', '{{}}'::json,
    'physicalblockdevice_set', COALESCE((
        SELECT json_agg(json_build_object(
                   'id', b.id, 'name', b.name, 'path', b.path, 'id_path', b.id_path,
                   'size', b.size, 'block_size', b.block_size, 'model', b.model,
                   'serial', b.serial, 'tags', b.tags)
               ORDER BY b.id)
          FROM blockdevices b WHERE b.node_id = n.id), '[]'::json),
    'resource_uri', {_NODE_URI}
)"""

#: The joins NODE_DOCUMENT needs.
NODE_JOINS = """
    nodes n
    JOIN nodegroups g ON g.id = n.nodegroup_id
    JOIN zones z ON z.id = n.zone_id
    LEFT JOIN users u ON u.id = n.owner_id
"""


def list_query(where: str) -> str:
    """A query returning one JSON array (as text) of the nodes matching where, by id."""
    return f"""
        SELECT COALESCE(json_agg(doc ORDER BY id), '[]'::json)::text
          FROM (SELECT n.id, {NODE_DOCUMENT} AS doc
                  FROM {NODE_JOINS}
                 WHERE {where}) AS selected
    """


def single_query(where: str) -> str:
    """A query returning one node's JSON (as text), or no row."""
    return f"SELECT ({NODE_DOCUMENT})::text FROM {NODE_JOINS} WHERE {where}"
