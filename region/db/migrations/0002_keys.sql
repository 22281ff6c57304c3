-- A unique constraint on (user_id, key) puts the whole key text in a btree
-- entry, which PostgreSQL caps at 2704 bytes: a certificate chain or a
-- 16384-bit RSA key would fail with "index row size exceeds btree maximum".
-- Keep "one copy of a key per user" on a digest of the key instead (md5 is
-- enough: only a user could collide two keys of their own, to no one's harm).

ALTER TABLE sshkeys DROP CONSTRAINT sshkeys_user_id_key_key;
CREATE UNIQUE INDEX sshkeys_user_id_key_digest ON sshkeys (user_id, md5(key));

ALTER TABLE sslkeys DROP CONSTRAINT sslkeys_user_id_key_key;
CREATE UNIQUE INDEX sslkeys_user_id_key_digest ON sslkeys (user_id, md5(key));
