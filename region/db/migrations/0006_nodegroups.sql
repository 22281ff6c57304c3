-- Cluster interfaces (1.8's NodeGroupInterface) and the download progress
-- clusters report (nodegroups/<uuid>/ op=report_download_progress).

-- A network a cluster controller is attached to, and what MAAS manages on it
-- (management: 0 unmanaged, 1 DHCP, 2 DHCP and DNS).  Consistency of the
-- addresses and ranges is checked by region/domain/interfaces.py; the checks
-- here only keep out what no code path should ever write.
CREATE TABLE nodegroup_interfaces (
    id serial PRIMARY KEY,
    nodegroup_id integer NOT NULL REFERENCES nodegroups ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' AND length(name) <= 255),
    -- The network interface on the cluster controller ('' = not given).
    interface text NOT NULL DEFAULT '',
    ip inet NOT NULL,
    subnet_mask inet,
    broadcast_ip inet,
    router_ip inet,
    ip_range_low inet,
    ip_range_high inet,
    static_ip_range_low inet,
    static_ip_range_high inet,
    management smallint NOT NULL DEFAULT 0 CHECK (management IN (0, 1, 2)),
    -- A DHCP server not run by MAAS that the cluster saw on this network.
    foreign_dhcp_ip inet,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    UNIQUE (nodegroup_id, name),
    CHECK ((ip_range_low IS NULL) = (ip_range_high IS NULL)),
    CHECK ((static_ip_range_low IS NULL) = (static_ip_range_high IS NULL)),
    CHECK (management = 0 OR (subnet_mask IS NOT NULL AND ip_range_low IS NOT NULL))
);

-- One row per download a cluster reported: a report without bytes_downloaded
-- starts a new download of that file; later reports update the latest one.
CREATE TABLE download_progress (
    id bigserial PRIMARY KEY,
    nodegroup_id integer NOT NULL REFERENCES nodegroups ON DELETE CASCADE,
    filename text NOT NULL CHECK (filename <> ''),
    size bigint CHECK (size >= 0),
    bytes_downloaded bigint CHECK (bytes_downloaded >= 0),
    -- Non-empty when the last report said the download failed.
    error text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    CHECK (size IS NULL OR bytes_downloaded IS NULL OR bytes_downloaded <= size)
);
CREATE INDEX download_progress_file ON download_progress (nodegroup_id, filename, id);
