--
-- fdw_settings: the per-statement settings do what CQL's USING TIMESTAMP,
-- USING TTL and paging do, ANALYZE gives the planner statistics, and
-- TRUNCATE empties a table.
-- Can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('set_ks');
RESET client_min_messages;

CREATE SERVER set_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE set_kv (
    k text, c int, v text,
    v_written bigint OPTIONS (writetime 'v'), v_ttl int OPTIONS (ttl 'v'))
  SERVER set_ks OPTIONS (primary_key '((k), c)', default_time_to_live '3600');

-- widecol.write_timestamp (USING TIMESTAMP): the highest timestamp wins,
-- whatever the order of the writes
SET widecol.write_timestamp = '2000';
INSERT INTO set_kv (k, c, v) VALUES ('a', 1, 'newer');
SET widecol.write_timestamp = '1000';
INSERT INTO set_kv (k, c, v) VALUES ('a', 1, 'older');
UPDATE set_kv SET v = 'older update' WHERE k = 'a' AND c = 1;
SELECT k, c, v, v_written FROM set_kv WHERE k = 'a';
-- a deletion older than the cells does not shadow them; a newer one does
SET widecol.write_timestamp = '1500';
DELETE FROM set_kv WHERE k = 'a' AND c = 1;
SELECT count(*) AS after_older_delete FROM set_kv WHERE k = 'a';
SET widecol.write_timestamp = '2500';
DELETE FROM set_kv WHERE k = 'a' AND c = 1;
SELECT count(*) AS after_newer_delete FROM set_kv WHERE k = 'a';
-- and a write older than that deletion stays deleted
SET widecol.write_timestamp = '2400';
INSERT INTO set_kv (k, c, v) VALUES ('a', 1, 'too old');
SELECT count(*) AS after_older_write FROM set_kv WHERE k = 'a';
RESET widecol.write_timestamp;
-- without it, writes get the current time
INSERT INTO set_kv (k, c, v) VALUES ('a', 2, 'now');
SELECT v, v_written > 1700000000000000 AS current_time FROM set_kv WHERE k = 'a' AND c = 2;

-- widecol.ttl (USING TTL): -1 the table's default_time_to_live, 0 none
INSERT INTO set_kv (k, c, v) VALUES ('t', 1, 'table default');
SET widecol.ttl = 0;
INSERT INTO set_kv (k, c, v) VALUES ('t', 2, 'no ttl');
SET widecol.ttl = 60;
INSERT INTO set_kv (k, c, v) VALUES ('t', 3, 'one minute');
RESET widecol.ttl;
SELECT c, v, v_ttl IS NULL AS no_ttl, v_ttl BETWEEN 3500 AND 3600 AS about_an_hour,
       v_ttl BETWEEN 1 AND 60 AS within_a_minute
  FROM set_kv WHERE k = 't' ORDER BY c;

-- per-row TTL and write time through the ttl and writetime columns (CQL's
-- USING TTL and USING TIMESTAMP, one row at a time): one INSERT, each row
-- its own; a NULL keeps the statement's (here the table default, an hour)
INSERT INTO set_kv (k, c, v, v_ttl, v_written) VALUES
  ('r', 1, 'ten minutes', 600, NULL),
  ('r', 2, 'no ttl', 0, NULL),
  ('r', 3, 'old write', NULL, 1000),
  ('r', 4, 'both', 120, 5000);
SELECT c, v, v_ttl IS NULL AS no_ttl, v_ttl BETWEEN 590 AND 600 AS ten_minutes,
       v_ttl BETWEEN 110 AND 120 AS two_minutes, v_ttl BETWEEN 3500 AND 3600 AS an_hour,
       v_written < 1700000000000000 AS given_time, CASE WHEN v_written < 1700000000000000 THEN v_written END AS written
  FROM set_kv WHERE k = 'r' ORDER BY c;
-- a write with an older write time loses to it, a newer one wins
INSERT INTO set_kv (k, c, v, v_written) VALUES ('r', 3, 'older still', 999);
SELECT v FROM set_kv WHERE k = 'r' AND c = 3;
INSERT INTO set_kv (k, c, v, v_written) VALUES ('r', 3, 'newer', 1001);
SELECT v, v_written FROM set_kv WHERE k = 'r' AND c = 3;
-- COPY: each line its own TTL and write time (an empty one: the statement's)
COPY set_kv (k, c, v, v_ttl, v_written) FROM stdin (FORMAT csv);
r,10,copy a,30,
r,11,copy b,0,7000
\.
SELECT c, v, v_ttl BETWEEN 1 AND 30 AS within_30s, v_ttl IS NULL AS no_ttl,
       v_written > 1700000000000000 AS current_time,
       CASE WHEN v_written < 1700000000000000 THEN v_written END AS written
  FROM set_kv WHERE k = 'r' AND c >= 10 ORDER BY c;
-- UPDATE gives the cells it writes their TTL
UPDATE set_kv SET v = 'updated', v_ttl = 45 WHERE k = 'r' AND c = 2;
SELECT v, v_ttl BETWEEN 1 AND 45 AS within_45s FROM set_kv WHERE k = 'r' AND c = 2;
-- the row goes when its cells expire, as with USING TTL
INSERT INTO set_kv (k, c, v, v_ttl) VALUES ('r', 20, 'short', 1);
SELECT count(*) AS before_expiry FROM set_kv WHERE k = 'r' AND c = 20;
SELECT pg_sleep(2.1);
SELECT count(*) AS after_expiry FROM set_kv WHERE k = 'r' AND c = 20;

-- widecol.fetch_size: paging by 7 rows returns every row once, in order
INSERT INTO set_kv (k, c, v) SELECT 'p' || (i % 5), i, 'x' || i FROM generate_series(1, 250) i;
SET widecol.fetch_size = 7;
SELECT count(*), count(DISTINCT (k, c)) FROM set_kv WHERE k LIKE 'p%'
  AND k IN ('p0', 'p1', 'p2', 'p3', 'p4');
SELECT array_agg(c ORDER BY c) = array_agg(c) AS in_clustering_order
  FROM (SELECT c FROM set_kv WHERE k = 'p3') s;
SELECT count(*) AS whole_table FROM set_kv;
RESET widecol.fetch_size;

-- ANALYZE reads the table and gives the planner row counts and statistics
ANALYZE set_kv;
SELECT reltuples FROM pg_class WHERE oid = 'set_kv'::regclass;
SELECT attname, n_distinct FROM pg_stats
 WHERE schemaname = 'public' AND tablename = 'set_kv' AND attname IN ('k', 'c') ORDER BY attname;

-- TRUNCATE empties the table at once (with heap tables in the same
-- statement); it is refused inside a transaction block, where ROLLBACK could
-- not bring the rows back
CREATE TABLE set_heap (x int);
INSERT INTO set_heap VALUES (1);
BEGIN;
TRUNCATE set_kv;
ROLLBACK;
SELECT count(*) AS still_there FROM set_kv WHERE k = 'p1';
TRUNCATE set_kv, set_heap;
SELECT (SELECT count(*) FROM set_kv WHERE k IN ('a', 't', 'p0', 'p1', 'p2', 'p3', 'p4')) AS widecol_rows,
       (SELECT count(*) FROM set_heap) AS heap_rows;
INSERT INTO set_kv (k, c, v) VALUES ('after', 1, 'writes go on');
SELECT k, c, v FROM set_kv WHERE k = 'after';
DROP TABLE set_heap;

SELECT widecol.drop_table('set_kv');
SET client_min_messages = warning;
DROP SERVER set_ks CASCADE;
RESET client_min_messages;
