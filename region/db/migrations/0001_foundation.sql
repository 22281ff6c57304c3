-- Users, API credentials, nonces, zones, keys, configuration, files and
-- commissioning scripts: everything the first resources of the API need.

CREATE TABLE users (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE
        CHECK (username ~ '^[A-Za-z0-9.@+_-]+$' AND length(username) <= 150),
    email text NOT NULL DEFAULT '',
    password text NOT NULL DEFAULT '',
    is_superuser boolean NOT NULL DEFAULT false,
    is_active boolean NOT NULL DEFAULT true,
    -- Built-in accounts (node and cluster credentials); never listed.
    is_system boolean NOT NULL DEFAULT false,
    date_joined timestamptz NOT NULL DEFAULT now()
);

-- The owners of the credentials MAAS hands out to nodes and clusters.
INSERT INTO users (username, is_system) VALUES
    ('maas-init-node', true),
    ('maas-nodegroup-worker', true);

-- One row per OAuth access token.  MAAS creates a consumer per token, so
-- the consumer's key and (always empty) secret live on the same row.
CREATE TABLE tokens (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users ON DELETE CASCADE,
    consumer_key text NOT NULL UNIQUE,
    consumer_secret text NOT NULL DEFAULT '',
    token_key text NOT NULL UNIQUE,
    token_secret text NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_user_id ON tokens (user_id);

-- Nonces of accepted requests.  A row can go once its timestamp is outside
-- the accepted window: a replay would carry the same, stale, timestamp.
CREATE TABLE nonces (
    token_key text NOT NULL,
    consumer_key text NOT NULL,
    nonce text NOT NULL,
    stamp bigint NOT NULL,
    PRIMARY KEY (token_key, consumer_key, nonce)
);
CREATE INDEX nonces_stamp ON nonces (stamp);

CREATE TABLE zones (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_-]+$' AND length(name) <= 256),
    description text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);
INSERT INTO zones (name) VALUES ('default');

CREATE TABLE sshkeys (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users ON DELETE CASCADE,
    key text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, key)
);

CREATE TABLE sslkeys (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users ON DELETE CASCADE,
    key text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, key)
);

-- Configuration items, JSON-encoded as MAAS stores them.  Unset items take
-- their defaults from region/domain/config_items.py.
CREATE TABLE config (
    name text PRIMARY KEY,
    value jsonb
);

CREATE TABLE files (
    id serial PRIMARY KEY,
    filename text NOT NULL CHECK (filename <> ''),
    owner_id integer REFERENCES users ON DELETE CASCADE,
    content bytea NOT NULL,
    key uuid NOT NULL UNIQUE,
    created timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (filename, owner_id)
);

CREATE TABLE commissioning_scripts (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    content bytea NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);
