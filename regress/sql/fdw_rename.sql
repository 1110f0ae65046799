--
-- fdw_rename: renaming a widecol foreign table or keyspace (server) keeps
-- the data.  Engine tables are named after the server and the foreign table
-- unless the keyspace or table_name option says otherwise; a rename adds
-- that option with the old name (with a NOTICE), inside the renaming
-- transaction.  Can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('rn_ks', 'rn_keyspace');
RESET client_min_messages;

CREATE SERVER rn_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE rn_events (device text, ts int, reading numeric) SERVER rn_ks
  OPTIONS (primary_key '((device), ts)', clustering_order 'ts DESC');
INSERT INTO rn_events VALUES ('a', 1, 1.5), ('a', 2, 2.5), ('b', 1, 10);

-- the rename keeps the engine table: same rows, table_name added
ALTER FOREIGN TABLE rn_events RENAME TO rn_readings;
SELECT * FROM rn_readings WHERE device = 'a';
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'rn_readings'::regclass;

-- writes under the new name land in the same engine table
INSERT INTO rn_readings VALUES ('a', 3, 3.5);
SELECT count(*) FROM rn_readings;

-- a table that already has table_name is renamed as it is (no NOTICE)
ALTER TABLE rn_readings RENAME TO rn_metrics;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'rn_metrics'::regclass;
SELECT * FROM rn_metrics WHERE device = 'a' LIMIT 1;

-- a rolled-back rename leaves the table and its options as they were
CREATE FOREIGN TABLE rn_fresh (k int, c int, v text) SERVER rn_ks
  OPTIONS (primary_key '((k), c)');
INSERT INTO rn_fresh VALUES (1, 1, 'x');
BEGIN;
ALTER FOREIGN TABLE rn_fresh RENAME TO rn_fresher;
SELECT * FROM rn_fresher;
ROLLBACK;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'rn_fresh'::regclass;
SELECT * FROM rn_fresh;

-- renaming a column keeps its cells (columns are stored by id, not name)
ALTER FOREIGN TABLE rn_fresh RENAME COLUMN v TO label;
SELECT * FROM rn_fresh;

-- renaming the keyspace keeps its engine tables: the server gets keyspace
ALTER SERVER rn_ks RENAME TO rn_keyspace;
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'rn_keyspace';
SELECT * FROM rn_fresh;
SELECT count(*) FROM rn_metrics;
-- once it has the option, a rename changes only the server's name
ALTER SERVER rn_keyspace RENAME TO rn_ks;
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'rn_ks';
SELECT count(*) FROM rn_metrics;

-- a missing table with IF EXISTS is skipped as in PostgreSQL
ALTER FOREIGN TABLE IF EXISTS rn_missing RENAME TO rn_other;

SELECT count(*) AS dropped FROM (
    SELECT widecol.drop_table(ft.ftrelid) FROM pg_foreign_table ft
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
     WHERE s.srvname = 'rn_ks') d;
SET client_min_messages = warning;
DROP SERVER rn_ks CASCADE;
RESET client_min_messages;
