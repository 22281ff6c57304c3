-- Region-cluster RPC: where each region process listens, what clusters report.

-- Each region process ("event loop", named <host>:pid=<pid>) records the
-- addresses its RPC service listens on; GET /MAAS/rpc/ lists the rows that
-- are fresh.  UNLOGGED as in 1.8: after a crash the rows are worthless anyway
-- and every live process writes its own again within a minute.
CREATE UNLOGGED TABLE eventloops (
    id serial PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    address inet NOT NULL,
    port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    updated timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, address, port),
    -- One endpoint belongs to one live process: a restarted process takes
    -- over its predecessor's row.
    UNIQUE (address, port)
);
CREATE INDEX eventloops_updated ON eventloops (updated);

-- What a cluster reported when it last registered: its interfaces as a JSON
-- list of {"interface", "ip", "subnet_mask"}, kept until nodegroup
-- interfaces exist to turn them into; and the DHCP servers not run by MAAS
-- that it saw, as {"<interface>": "<ip>"}.
ALTER TABLE nodegroups
    ADD COLUMN reported_networks jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(reported_networks) = 'array'),
    ADD COLUMN foreign_dhcp jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(foreign_dhcp) = 'object');

-- The DHCP leases a cluster last reported (UpdateLeases replaces them all).
CREATE TABLE dhcp_leases (
    nodegroup_id integer NOT NULL REFERENCES nodegroups ON DELETE CASCADE,
    ip inet NOT NULL,
    mac macaddr NOT NULL,
    PRIMARY KEY (nodegroup_id, ip)
);
CREATE INDEX dhcp_leases_mac ON dhcp_leases (mac);

-- When ListNodePowerParameters last handed the node to its cluster for a
-- power query; cleared when a power state is reported.  A node is handed out
-- again only after a while, so a node whose query never reports back cannot
-- keep the cluster's monitor looping.
ALTER TABLE nodes ADD COLUMN power_query_listed timestamptz;
-- The power monitor asks for nodes never queried, then the least recently
-- queried ones, per cluster.
CREATE INDEX nodes_power_queried ON nodes (nodegroup_id, power_state_updated NULLS FIRST);
