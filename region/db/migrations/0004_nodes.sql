-- Clusters (nodegroups), nodes and what hangs off them: MAC addresses,
-- block devices, tags, events, commissioning results, user data, node keys.

CREATE TABLE nodegroups (
    id serial PRIMARY KEY,
    uuid text NOT NULL UNIQUE CHECK (uuid <> ''),
    -- The DNS zone of the cluster's nodes.
    name text NOT NULL DEFAULT 'maas',
    cluster_name text NOT NULL,
    -- 0 pending, 1 accepted (enabled), 2 rejected (disabled).
    status smallint NOT NULL DEFAULT 1 CHECK (status IN (0, 1, 2)),
    -- The cluster's worker credentials (owned by maas-nodegroup-worker).
    token_id bigint REFERENCES tokens ON DELETE SET NULL,
    maas_url text NOT NULL DEFAULT '',
    dhcp_key text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);

-- The placeholder cluster MAAS 1.8 creates so that nodes always have one;
-- the first cluster to register takes it over.
INSERT INTO nodegroups (uuid, name, cluster_name, status)
VALUES ('master', 'maas', 'Cluster master', 1);

-- A node's zone falls back to the default zone when its zone is deleted.
CREATE FUNCTION default_zone_id() RETURNS integer LANGUAGE sql STABLE AS
    $$ SELECT id FROM zones WHERE name = 'default' $$;

CREATE TABLE nodes (
    id serial PRIMARY KEY,
    system_id text NOT NULL UNIQUE,
    hostname text NOT NULL UNIQUE CHECK (hostname <> ''),
    nodegroup_id integer NOT NULL REFERENCES nodegroups,
    status smallint NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 15),
    owner_id integer REFERENCES users ON DELETE SET NULL,
    architecture text NOT NULL,
    cpu_count integer NOT NULL DEFAULT 0 CHECK (cpu_count >= 0),
    memory integer NOT NULL DEFAULT 0 CHECK (memory >= 0),
    swap_size bigint CHECK (swap_size >= 0),
    osystem text NOT NULL DEFAULT '',
    distro_series text NOT NULL DEFAULT '',
    license_key text NOT NULL DEFAULT '',
    boot_type text NOT NULL DEFAULT 'fastpath' CHECK (boot_type IN ('fastpath', 'di')),
    netboot boolean NOT NULL DEFAULT true,
    disable_ipv4 boolean NOT NULL DEFAULT false,
    power_type text NOT NULL DEFAULT '',
    -- NULL until power parameters are first set (1.8 then answers "").
    power_parameters jsonb,
    power_state text NOT NULL DEFAULT 'unknown'
        CHECK (power_state IN ('on', 'off', 'unknown', 'error')),
    power_state_updated timestamptz,
    zone_id integer NOT NULL DEFAULT default_zone_id() REFERENCES zones ON DELETE SET DEFAULT,
    agent_name text NOT NULL DEFAULT '',
    -- The OAuth token that acquired the node (for list_allocated).
    token_id bigint REFERENCES tokens ON DELETE SET NULL,
    error text NOT NULL DEFAULT '',
    -- MACs of the switches LLDP saw (NULL until commissioning says).
    routers macaddr[],
    pxe_mac macaddr,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nodes_status ON nodes (status);
CREATE INDEX nodes_owner ON nodes (owner_id);
CREATE INDEX nodes_zone ON nodes (zone_id);
CREATE INDEX nodes_nodegroup ON nodes (nodegroup_id);
CREATE INDEX nodes_token ON nodes (token_id) WHERE token_id IS NOT NULL;
CREATE INDEX nodes_ready_cost ON nodes ((cpu_count + memory / 1024.0), id) WHERE status = 4;

CREATE TABLE macaddresses (
    id serial PRIMARY KEY,
    node_id integer NOT NULL REFERENCES nodes ON DELETE CASCADE,
    mac macaddr NOT NULL UNIQUE,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX macaddresses_node ON macaddresses (node_id, id);

CREATE TABLE blockdevices (
    id serial PRIMARY KEY,
    node_id integer NOT NULL REFERENCES nodes ON DELETE CASCADE,
    name text NOT NULL,
    path text NOT NULL,
    id_path text NOT NULL DEFAULT '',
    size bigint NOT NULL CHECK (size >= 0),
    block_size integer NOT NULL DEFAULT 512,
    model text NOT NULL DEFAULT '',
    serial text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{}',
    UNIQUE (node_id, path)
);

CREATE TABLE tags (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_-]+$' AND length(name) <= 256),
    -- An XPath 1.0 expression over the node's hardware details; '' = manual tag.
    definition text NOT NULL DEFAULT '',
    comment text NOT NULL DEFAULT '',
    kernel_opts text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE node_tags (
    node_id integer NOT NULL REFERENCES nodes ON DELETE CASCADE,
    tag_id integer NOT NULL REFERENCES tags ON DELETE CASCADE,
    PRIMARY KEY (node_id, tag_id)
);
CREATE INDEX node_tags_tag ON node_tags (tag_id);

CREATE TABLE event_types (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL,
    level integer NOT NULL
);
INSERT INTO event_types (name, description, level) VALUES
    ('NODE_POWER_ON_STARTING', 'Powering node on', 20),
    ('NODE_POWER_OFF_STARTING', 'Powering node off', 20),
    ('NODE_POWERED_ON', 'Node powered on', 20),
    ('NODE_POWERED_OFF', 'Node powered off', 20),
    ('NODE_POWER_ON_FAILED', 'Failed to power on node', 40),
    ('NODE_POWER_OFF_FAILED', 'Failed to power off node', 40),
    ('NODE_POWER_QUERY_FAILED', 'Failed to query node''s BMC', 30),
    ('NODE_TFTP_REQUEST', 'TFTP Request', 10),
    ('NODE_PXE_REQUEST', 'PXE Request', 20),
    ('NODE_INSTALLATION_FINISHED', 'Installation complete', 20),
    ('NODE_CHANGED_STATUS', 'Node changed status', 20);

CREATE TABLE events (
    id bigserial PRIMARY KEY,
    type_id integer NOT NULL REFERENCES event_types,
    node_id integer NOT NULL REFERENCES nodes ON DELETE CASCADE,
    description text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_node ON events (node_id, id);

-- The display names of node statuses, for event descriptions.
CREATE FUNCTION node_status_display(status integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT (ARRAY[
        'New', 'Commissioning', 'Failed commissioning', 'Missing', 'Ready', 'Reserved',
        'Deployed', 'Retired', 'Broken', 'Deploying', 'Allocated', 'Failed deployment',
        'Releasing', 'Releasing failed', 'Disk erasing', 'Failed disk erasing'
    ])[status + 1]
$$;

-- Every status change of a node is an event, however the change was made.
CREATE FUNCTION record_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type_id, node_id, description)
    SELECT id, NEW.id,
           format('From ''%s'' to ''%s''', node_status_display(OLD.status),
                  node_status_display(NEW.status))
      FROM event_types WHERE name = 'NODE_CHANGED_STATUS';
    RETURN NULL;
END
$$;
CREATE TRIGGER nodes_status_event AFTER UPDATE OF status ON nodes
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION record_status_change();

-- Results of commissioning (0) and installation (1) scripts.
CREATE TABLE node_results (
    id serial PRIMARY KEY,
    node_id integer NOT NULL REFERENCES nodes ON DELETE CASCADE,
    name text NOT NULL,
    script_result integer NOT NULL DEFAULT 0,
    result_type smallint NOT NULL DEFAULT 0 CHECK (result_type IN (0, 1)),
    data bytea NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    UNIQUE (node_id, name)
);

-- User data handed to a node by the metadata service.
CREATE TABLE node_userdata (
    node_id integer PRIMARY KEY REFERENCES nodes ON DELETE CASCADE,
    data bytea NOT NULL
);

-- Each node's own metadata credentials (a token of maas-init-node).
CREATE TABLE node_keys (
    node_id integer PRIMARY KEY REFERENCES nodes ON DELETE CASCADE,
    token_id bigint NOT NULL UNIQUE REFERENCES tokens ON DELETE CASCADE
);
