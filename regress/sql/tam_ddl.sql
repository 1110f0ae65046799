--
-- tam_ddl: tables of the widecol access method (CREATE TABLE ... USING
-- widecol): options and their validation, the PRIMARY KEY spelling, the
-- default keyspace, CREATE TABLE AS / SELECT INTO, ALTER TABLE SET, RENAME,
-- TRUNCATE, DROP TABLE (which drops the engine data), the pushdown shown by
-- EXPLAIN, joins, views, prepared statements, cursors, and every refusal
-- with its hint.
-- Own keyspace (server tam_ddl_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('tam_ddl_t');
DROP SCHEMA IF EXISTS tam_ddl_t CASCADE;
DROP ROLE IF EXISTS regress_tam_reader;
RESET client_min_messages;

CREATE SCHEMA tam_ddl_t;
SET search_path = tam_ddl_t, public, widecol;
SET timezone = 'UTC';

CREATE SERVER tam_ddl_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

CREATE TABLE readings (
    device_id   text,
    "timestamp" timestamptz,
    temperature numeric,
    note        text DEFAULT 'none'
) USING widecol WITH (
    keyspace = 'tam_ddl_t',
    primary_key = '(device_id, "timestamp")',
    clustering_order = '"timestamp" DESC',
    compaction = $${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', 'compaction_window_size': 24}$$,
    default_time_to_live = 2592000,
    gc_grace_seconds = 0
);
\d+ readings

-- the foreign table's validation
SELECT * FROM widecol_try($$CREATE TABLE bad (a int) USING widecol WITH (keyspace = 'tam_ddl_t', primry_key = '(a)')$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a int) USING widecol WITH (keyspace = 'tam_ddl_t', primary_key = '(b)')$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a int) USING widecol WITH (keyspace = 'tam_ddl_t', primary_key = '(a)', compaction = '{}')$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a int) USING widecol WITH (keyspace = 'no_such_ks', primary_key = '(a)')$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a int, b int, PRIMARY KEY (a, b)) USING widecol WITH (keyspace = 'tam_ddl_t', primary_key = '(b)')$$);
SELECT * FROM widecol_try($$CREATE TEMP TABLE bad (a int) USING widecol$$);

-- INSERT is an upsert; columns not named keep their cells; DEFAULTs are written
INSERT INTO readings VALUES
    ('d1', '2024-03-10 10:00+00', 20.5, 'a'),
    ('d1', '2024-03-10 11:00+00', 21.5, 'b'),
    ('d2', '2024-03-10 10:00+00', 19.0, NULL);
INSERT INTO readings (device_id, "timestamp", temperature) VALUES ('d1', '2024-03-10 10:00+00', 22.0);
COPY readings FROM stdin;
d3	2024-03-10 09:00:00+00	18.25	copied
d3	2024-03-10 08:00:00+00	\N	\N
\.
INSERT INTO readings SELECT 'd4', '2024-03-10 00:00+00'::timestamptz + i * interval '1 hour', i, NULL
  FROM generate_series(1, 20) i;
SELECT * FROM readings WHERE device_id IN ('d1', 'd2', 'd3');

-- pushdown through the CustomScan: partition key, slices, order, LIMIT
EXPLAIN (COSTS OFF)
SELECT * FROM readings WHERE device_id = 'd4' AND "timestamp" >= '2024-03-10 15:00+00'
ORDER BY "timestamp" DESC LIMIT 3;
SELECT "timestamp", temperature FROM readings
WHERE device_id = 'd4' AND "timestamp" >= '2024-03-10 15:00+00'
ORDER BY "timestamp" DESC LIMIT 3;
EXPLAIN (COSTS OFF)
SELECT "timestamp" FROM readings WHERE device_id = 'd4' ORDER BY "timestamp" LIMIT 2;
SELECT "timestamp" FROM readings WHERE device_id = 'd4' ORDER BY "timestamp" LIMIT 2;
-- whole-table filtering is refused, as for foreign tables
SELECT * FROM widecol_try($$SELECT * FROM readings WHERE temperature > 19$$);
SET widecol.allow_filtering = on;
SELECT count(*) FROM readings WHERE temperature > 19;
RESET widecol.allow_filtering;
SELECT count(*) FROM readings;

-- UPDATE writes the cells it sets; DELETE writes tombstones
UPDATE readings SET note = 'updated' WHERE device_id = 'd2' AND "timestamp" = '2024-03-10 10:00+00';
UPDATE readings SET temperature = temperature + 100 WHERE device_id = 'd3';
DELETE FROM readings WHERE device_id = 'd1' AND "timestamp" = '2024-03-10 11:00+00';
DELETE FROM readings WHERE device_id = 'd4' AND "timestamp" < '2024-03-10 18:00+00';
SELECT * FROM readings WHERE device_id IN ('d1', 'd2', 'd3', 'd4');

-- joins with heap tables, views, prepared statements, cursors
CREATE TABLE devices (device_id text, site text);
INSERT INTO devices VALUES ('d1', 'north'), ('d3', 'south'), ('d9', 'nowhere');
ANALYZE devices;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT d.site, r.temperature FROM devices d JOIN readings r ON r.device_id = d.device_id;
SELECT d.site, r.temperature FROM devices d JOIN readings r ON r.device_id = d.device_id ORDER BY 1, 2;
RESET enable_hashjoin;
RESET enable_mergejoin;
CREATE VIEW latest AS
SELECT device_id, max("timestamp") AS last_seen FROM readings WHERE device_id IN ('d1', 'd3', 'd4')
GROUP BY device_id;
SELECT * FROM latest ORDER BY 1;
PREPARE by_device(text) AS SELECT count(*), max(temperature) FROM readings WHERE device_id = $1;
EXECUTE by_device('d3');
EXECUTE by_device('d4');
BEGIN;
DECLARE c CURSOR FOR SELECT "timestamp" FROM readings WHERE device_id = 'd4';
FETCH 2 FROM c;
FETCH 2 FROM c;
CLOSE c;
COMMIT;

-- RETURNING shows whole rows, also the columns the statement does not name
UPDATE readings SET note = 'returned' WHERE device_id = 'd1' RETURNING *;
DELETE FROM readings WHERE device_id = 'd3' AND "timestamp" = '2024-03-10 08:00+00' RETURNING device_id, "timestamp";

-- a DELETE in WITH feeding an INSERT
CREATE TABLE moved (device_id text, "timestamp" timestamptz, temperature numeric, note text)
  USING widecol WITH (keyspace = 'tam_ddl_t', primary_key = '(device_id, "timestamp")');
WITH gone AS (DELETE FROM readings WHERE device_id = 'd2' RETURNING *)
INSERT INTO moved SELECT * FROM gone;
SELECT (SELECT count(*) FROM readings WHERE device_id = 'd2') AS left_behind,
       (SELECT count(*) FROM moved WHERE device_id = 'd2') AS moved;
SELECT * FROM widecol_try($$CREATE MATERIALIZED VIEW mv USING widecol AS SELECT 1 AS a$$);

-- CREATE TABLE AS, SELECT INTO, the PRIMARY KEY spelling, the default keyspace
SET client_min_messages = warning;
DROP SERVER IF EXISTS widecol_default CASCADE;
RESET client_min_messages;
CREATE TABLE copy_of USING widecol WITH (keyspace = 'tam_ddl_t', primary_key = '((device_id), "timestamp")')
AS SELECT device_id, "timestamp", temperature FROM readings WHERE device_id = 'd3';
SELECT * FROM copy_of WHERE device_id = 'd3';
CREATE TABLE by_key (k int PRIMARY KEY, v text) USING widecol;
INSERT INTO by_key VALUES (1, 'one'), (2, 'two'), (1, 'uno');
SELECT * FROM by_key WHERE k IN (1, 2) ORDER BY k;
SET default_table_access_method = widecol;
SELECT k, v || '!' AS shout INTO selected FROM by_key WHERE k IN (1, 2);
RESET default_table_access_method;
SELECT * FROM selected WHERE k = 1;
SELECT c.relname, a.amname, c.reloptions FROM pg_class c JOIN pg_am a ON a.oid = c.relam
 WHERE c.relnamespace = 'tam_ddl_t'::regnamespace AND a.amname = 'widecol' ORDER BY 1;
SELECT table_name, keyspace FROM widecol.tables
 WHERE table_name::text IN ('readings', 'copy_of', 'by_key', 'selected') ORDER BY 1;

-- ALTER TABLE SET / RESET of options; what the stored rows cannot follow is refused
ALTER TABLE readings SET (gc_grace_seconds = 3600, comment = 'sensor data');
ALTER TABLE readings RESET (default_time_to_live);
SELECT reloptions FROM pg_class WHERE oid = 'readings'::regclass;
SELECT * FROM widecol_try($$ALTER TABLE readings SET (gc_grace_seconds = -1)$$);
SELECT * FROM widecol_try($$ALTER TABLE readings SET (keyspace = 'other')$$);
SELECT * FROM widecol_try($$ALTER TABLE readings SET (primary_key = '(device_id)')$$);
SELECT * FROM widecol_try($$ALTER TABLE readings ALTER COLUMN temperature TYPE integer$$);
SELECT * FROM widecol_try($$ALTER TABLE readings DROP COLUMN "timestamp"$$);
SELECT * FROM widecol_try($$ALTER TABLE readings RENAME COLUMN device_id TO dev$$);
SELECT * FROM widecol_try($$ALTER TABLE readings SET ACCESS METHOD heap$$);
SELECT * FROM widecol_try($$ALTER TABLE readings ADD COLUMN r double precision DEFAULT random()$$);
SELECT * FROM widecol_try($$ALTER TABLE readings SET UNLOGGED$$);
ALTER TABLE readings ADD COLUMN battery integer;
UPDATE readings SET battery = 90 WHERE device_id = 'd1';
SELECT device_id, battery FROM readings WHERE device_id IN ('d1', 'd2');
ALTER TABLE readings DROP COLUMN battery;
-- RENAME keeps the engine table (and the rows)
ALTER TABLE by_key RENAME TO by_key2;
SELECT * FROM by_key2 WHERE k IN (1, 2) ORDER BY k;

-- refusals: indexes, constraints that need one, foreign keys, row locks,
-- ON CONFLICT, key updates, ctid, TABLESAMPLE, CLUSTER/VACUUM FULL
SELECT * FROM widecol_try($$CREATE INDEX ON readings (temperature)$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a int UNIQUE) USING widecol$$);
SELECT * FROM widecol_try($$ALTER TABLE readings ADD CONSTRAINT u UNIQUE (note)$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a text REFERENCES devices (device_id)) USING widecol$$);
SELECT * FROM widecol_try($$CREATE TABLE bad (a int REFERENCES by_key2 (k))$$);
SELECT * FROM widecol_try($$SELECT * FROM readings WHERE device_id = 'd1' FOR UPDATE$$);
SELECT * FROM widecol_try($$INSERT INTO by_key2 VALUES (1, 'x') ON CONFLICT DO NOTHING$$);
SELECT * FROM widecol_try($$UPDATE readings SET device_id = 'd9' WHERE device_id = 'd1'$$);
SELECT * FROM widecol_try($$SELECT * FROM readings WHERE ctid = '(0,1)'$$);
SELECT * FROM widecol_try($$SELECT * FROM readings TABLESAMPLE SYSTEM (10)$$);
VACUUM FULL readings;
SELECT * FROM widecol_try($$MERGE INTO by_key2 t USING (VALUES (1)) s(k) ON t.k = s.k WHEN NOT MATCHED THEN INSERT VALUES (s.k, 'm')$$);
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
SELECT * FROM widecol_try($$CREATE TRIGGER t AFTER INSERT ON by_key2 FOR EACH ROW EXECUTE FUNCTION noop()$$);
CREATE TRIGGER t BEFORE INSERT ON by_key2 FOR EACH ROW EXECUTE FUNCTION noop();
VACUUM readings;
ANALYZE readings;
SELECT reltuples FROM pg_class WHERE oid = 'readings'::regclass;

-- privileges and ownership follow the relation
CREATE ROLE regress_tam_reader;
GRANT USAGE ON SCHEMA tam_ddl_t TO regress_tam_reader;
SET ROLE regress_tam_reader;
SELECT * FROM widecol_try($$SELECT count(*) FROM readings WHERE device_id = 'd1'$$);
RESET ROLE;
GRANT SELECT ON readings TO regress_tam_reader;
SET ROLE regress_tam_reader;
SELECT count(*) FROM readings WHERE device_id = 'd1';
SELECT * FROM widecol_try($$INSERT INTO readings VALUES ('d1', now(), 1, 'x')$$);
RESET ROLE;
CREATE TABLE owned (k int PRIMARY KEY, v text) USING widecol WITH (keyspace = 'tam_ddl_t');
INSERT INTO owned VALUES (1, 'a');
ALTER TABLE owned OWNER TO regress_tam_reader;
SET ROLE regress_tam_reader;
INSERT INTO owned VALUES (2, 'b');
SELECT * FROM owned WHERE k IN (1, 2) ORDER BY k;
SELECT widecol.flush('owned');
RESET ROLE;
DROP TABLE owned;
REVOKE ALL ON SCHEMA tam_ddl_t FROM regress_tam_reader;
REVOKE ALL ON readings FROM regress_tam_reader;
DROP ROLE regress_tam_reader;

-- a statement that fails inside a savepoint leaves nothing behind
CREATE TABLE sx (k int PRIMARY KEY, v text) USING widecol WITH (keyspace = 'tam_ddl_t');
BEGIN;
SAVEPOINT a;
INSERT INTO sx SELECT i, CASE WHEN i < 50 THEN 'x' ELSE (1 / (i - 50))::text END
  FROM generate_series(10, 60) i;
ROLLBACK TO a;
INSERT INTO sx VALUES (2, 'kept');
COMMIT;
SELECT * FROM sx WHERE k IN (2, 10, 49);

-- TRUNCATE empties the engine table, but not inside a transaction block
SELECT * FROM widecol_try($$TRUNCATE copy_of$$);
TRUNCATE copy_of;
SELECT count(*) FROM copy_of;

-- DROP TABLE drops the engine data (a new table of the same name is empty);
-- ROLLBACK of a DROP keeps it
BEGIN;
DROP TABLE by_key2;
ROLLBACK;
SELECT count(*) FROM by_key2;
DROP TABLE by_key2;
CREATE TABLE by_key2 (k int, v text) USING widecol WITH (primary_key = 'k', table_name = 'by_key');
SELECT count(*) FROM by_key2;

DROP VIEW latest;
SET client_min_messages = warning;
DROP SERVER widecol_default CASCADE;
DROP SERVER tam_ddl_t CASCADE;
DROP SCHEMA tam_ddl_t CASCADE;
