--
-- fdw_import: IMPORT FOREIGN SCHEMA recreates foreign tables from the
-- engine tables a keyspace holds (their data outlives DROP FOREIGN TABLE):
-- key, clustering order, column types and options, compaction and TTL
-- options; LIMIT TO and EXCEPT; a server whose keyspace option names the
-- keyspace; a keyspace the server does not serve is refused with a hint.
-- Can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('imp_ks', 'imp_alias');
DROP SCHEMA IF EXISTS imp_all, imp_limit, imp_except, imp_via_alias CASCADE;
RESET client_min_messages;

CREATE SERVER imp_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE imp_readings (
    device text, ts timestamptz, temperature numeric, site text OPTIONS (static 'true'),
    temperature_written bigint OPTIONS (writetime 'temperature'))
  SERVER imp_ks OPTIONS (primary_key '((device), ts)', clustering_order 'ts DESC',
                         compaction $${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', 'compaction_window_size': 6}$$,
                         default_time_to_live '86400', gc_grace_seconds '3600');
CREATE FOREIGN TABLE imp_scores (game text, score int, player text, "Display Name" text)
  SERVER imp_ks OPTIONS (primary_key '((game), score, player)', clustering_order 'score DESC, player ASC');
INSERT INTO imp_readings (device, ts, temperature, site)
  VALUES ('d1', '2026-01-01 10:00+00', 21.5, 'lab'), ('d1', '2026-01-01 11:00+00', 22.0, 'lab');
INSERT INTO imp_scores VALUES ('chess', 10, 'ann', 'Ann'), ('chess', 30, 'bob', 'Bob');

-- the foreign tables go, the engine tables and their data stay
DROP FOREIGN TABLE imp_readings, imp_scores;

CREATE SCHEMA imp_all;
IMPORT FOREIGN SCHEMA imp_ks FROM SERVER imp_ks INTO imp_all;
SELECT c.relname,
       array(SELECT o FROM unnest(ft.ftoptions) o WHERE o NOT LIKE 'table_id=%' ORDER BY o) AS options
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relnamespace = 'imp_all'::regnamespace ORDER BY 1;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'imp_all'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum;
SET timezone = 'UTC';
SELECT device, ts, temperature, site, temperature_written > 0 AS has_writetime
  FROM imp_all.imp_readings WHERE device = 'd1';
SELECT * FROM imp_all.imp_scores WHERE game = 'chess';
RESET timezone;

-- LIMIT TO and EXCEPT
CREATE SCHEMA imp_limit;
IMPORT FOREIGN SCHEMA imp_ks LIMIT TO (imp_scores) FROM SERVER imp_ks INTO imp_limit;
SELECT relname FROM pg_class WHERE relnamespace = 'imp_limit'::regnamespace ORDER BY 1;
CREATE SCHEMA imp_except;
IMPORT FOREIGN SCHEMA imp_ks EXCEPT (imp_scores) FROM SERVER imp_ks INTO imp_except;
SELECT relname FROM pg_class WHERE relnamespace = 'imp_except'::regnamespace ORDER BY 1;

-- a server named otherwise that serves the keyspace through its keyspace option
CREATE SERVER imp_alias FOREIGN DATA WRAPPER widecol
  OPTIONS (keyspace 'imp_ks', replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE SCHEMA imp_via_alias;
IMPORT FOREIGN SCHEMA imp_ks LIMIT TO (imp_scores) FROM SERVER imp_alias INTO imp_via_alias;
SELECT count(*) FROM imp_via_alias.imp_scores;

-- a keyspace the server does not serve
IMPORT FOREIGN SCHEMA imp_elsewhere FROM SERVER imp_ks INTO imp_limit;

SET client_min_messages = warning;
DROP SCHEMA imp_via_alias CASCADE;
DROP SERVER imp_alias CASCADE;
SELECT count(*) AS dropped FROM (
    SELECT widecol.drop_table(ft.ftrelid) FROM pg_foreign_table ft
      JOIN pg_class c ON c.oid = ft.ftrelid
     WHERE c.relnamespace = 'imp_all'::regnamespace) d;
DROP SCHEMA imp_all, imp_limit, imp_except CASCADE;
DROP SERVER imp_ks CASCADE;
RESET client_min_messages;
