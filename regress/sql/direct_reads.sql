--
-- direct_reads: reads of one partition answered by the backend from the
-- table's SSTable files (widecol.direct_reads) once no memtable can hold
-- the partition.  Every read is checked against the same read through the
-- node (widecol.direct_reads = off) after each kind of change, flushed:
-- overwrite, row, range and partition deletes in newer files than the
-- data they shadow, static columns, TTL expiry, counters, collections,
-- paging, clustering order, compaction, TRUNCATE and drop_table; and the
-- reads that must go to the node: unflushed partitions, a transaction's
-- own writes, SERIAL and QUORUM reads.  A row read by its whole key is
-- direct while that row and the partition-level data (static row,
-- deletions) are unwritten since the last flush, whatever other rows were
-- written.  widecol.direct_read_stats() tells which way each read went.
-- Own keyspace (server direct_reads_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('direct_reads_t');
DROP SCHEMA IF EXISTS direct_reads_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA direct_reads_t;
SET search_path = direct_reads_t, public, widecol;

CREATE SERVER direct_reads_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

SELECT enabled FROM widecol.direct_read_stats();

-- dr(q): run q with direct reads, then through the node; its answer, whether
-- both agree, and whether the first read the files itself.
CREATE FUNCTION dr(q text, OUT answer text, OUT same boolean, OUT direct boolean)
LANGUAGE plpgsql AS $$
DECLARE
    d0 bigint;
    r1 text;
    r2 text;
BEGIN
    SELECT reads INTO d0 FROM widecol.direct_read_stats();
    EXECUTE format('SELECT string_agg(x::text, %L) FROM (%s) x', '; ', q) INTO r1;
    direct := (SELECT reads FROM widecol.direct_read_stats()) > d0;
    PERFORM set_config('widecol.direct_reads', 'off', true);
    EXECUTE format('SELECT string_agg(x::text, %L) FROM (%s) x', '; ', q) INTO r2;
    PERFORM set_config('widecol.direct_reads', 'on', true);
    answer := r1;
    same := r1 IS NOT DISTINCT FROM r2;
END
$$;

CREATE FOREIGN TABLE kv (k int, c int, v text, n int, s text OPTIONS (static 'true'))
    SERVER direct_reads_t OPTIONS (primary_key '((k), c)', clustering_order 'c DESC');
INSERT INTO kv (k, c, v, n) SELECT k, c, 'v' || k || '.' || c, k * c
    FROM generate_series(1, 5) k, generate_series(1, 6) c;
UPDATE kv SET s = 'static 1' WHERE k = 1;
UPDATE kv SET s = 'static 2' WHERE k = 2;

-- still in the memtable: the node answers
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
SELECT widecol.flush('kv');
-- a row, a partition in clustering order, a slice, a limit, the static column
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 2');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 2 AND c > 2 AND c <= 5');
SELECT * FROM dr('SELECT c FROM kv WHERE k = 3 ORDER BY c LIMIT 2');
SELECT * FROM dr('SELECT DISTINCT s FROM kv WHERE k = 1');
SELECT * FROM dr('SELECT v FROM kv WHERE k = 99');
-- pages of two rows: each page is a direct read that resumes the last
SET widecol.fetch_size = 2;
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 4');
RESET widecol.fetch_size;

-- an overwrite, flushed into a second file: the newer cell wins
INSERT INTO kv (k, c, v, n) VALUES (1, 1, 'new', 100);
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 1');
SELECT widecol.flush('kv');
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 1 AND c = 1');

-- deletes in a newer file than the data: a row, a range, a cell, a partition
DELETE FROM kv WHERE k = 2 AND c = 1;
DELETE FROM kv WHERE k = 3 AND c >= 4;
UPDATE kv SET n = NULL WHERE k = 4 AND c = 2;
DELETE FROM kv WHERE k = 5;
SELECT widecol.flush('kv');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 2');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 3');
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 4 AND c = 2');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 5');
SELECT * FROM dr('SELECT k, c FROM kv WHERE k = 5 AND c = 1');

-- a compaction merges the files: the same answers
SELECT widecol.compact('kv');
SELECT * FROM dr('SELECT c, v, n FROM kv WHERE k = 3');
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 5');

-- TTL: an expired cell is gone from a direct read as from the node's
SET widecol.ttl = 2;
INSERT INTO kv (k, c, v, n) VALUES (6, 1, 'expiring', 6);
RESET widecol.ttl;
SELECT widecol.flush('kv');
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 6 AND c = 1');
SELECT pg_sleep(2.5);
SELECT * FROM dr('SELECT v, n FROM kv WHERE k = 6 AND c = 1');

-- reads that go to the node
INSERT INTO kv (k, c, v, n) VALUES (1, 2, 'unflushed', 0);
SELECT * FROM dr('SELECT v FROM kv WHERE k = 1 AND c = 2');
SELECT * FROM dr('SELECT c, v FROM kv WHERE k = 1');
-- (another row of that partition, by its whole key, is still read directly,
-- but not with the static column, which a partition-level write may change)
SELECT * FROM dr('SELECT v FROM kv WHERE k = 1 AND c = 3');
SELECT * FROM dr('SELECT s, v FROM kv WHERE k = 1 AND c = 3');
UPDATE kv SET s = 'static 1 again' WHERE k = 1;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 1 AND c = 3');
-- a transaction reads its own writes
BEGIN;
UPDATE kv SET v = 'mine' WHERE k = 2 AND c = 2;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 2');
ROLLBACK;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 2');
SET widecol.consistency = quorum;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 2');
RESET widecol.consistency;
SET widecol.direct_reads = off;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 3');
RESET widecol.direct_reads;
-- a table with more SSTable bytes than the session's budget is read by the node
SET widecol.direct_read_file_mb = 0;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 3');
RESET widecol.direct_read_file_mb;
SELECT * FROM dr('SELECT v FROM kv WHERE k = 2 AND c = 3');
-- a read of many partitions is a scan of the node
SELECT * FROM dr('SELECT count(*) FROM (SELECT v FROM kv WHERE k IN (2, 3)) x');
SELECT * FROM dr('SELECT count(v) FROM kv');

-- counters
CREATE FOREIGN TABLE hits (page text, day int, views widecol.counter)
    SERVER direct_reads_t OPTIONS (primary_key '((page), day)');
UPDATE hits SET views = views + 1 WHERE page = 'home' AND day = 1;
UPDATE hits SET views = views + 5 WHERE page = 'home' AND day = 1;
SELECT widecol.flush('hits');
UPDATE hits SET views = views + 10 WHERE page = 'home' AND day = 1;
SELECT widecol.flush('hits');
SELECT * FROM dr($$SELECT views FROM hits WHERE page = 'home' AND day = 1$$);

-- collections, an append in a newer file
CREATE FOREIGN TABLE carts (u int, c int, items text[] OPTIONS (cql_type 'list<text>'),
                            tags text[] OPTIONS (cql_type 'set<text>'))
    SERVER direct_reads_t OPTIONS (primary_key '((u), c)');
INSERT INTO carts VALUES (1, 1, ARRAY['book'], ARRAY['b', 'a']);
SELECT widecol.flush('carts');
UPDATE carts SET items = items || ARRAY['pen'] WHERE u = 1 AND c = 1;
SELECT widecol.flush('carts');
SELECT * FROM dr('SELECT items, tags FROM carts WHERE u = 1 AND c = 1');

-- a table of the widecol access method; TRUNCATE empties what is read directly
CREATE TABLE tk (k int, c int, v text) USING widecol
    WITH (keyspace = 'direct_reads_t', primary_key = '((k), c)');
INSERT INTO tk VALUES (1, 1, 'one'), (1, 2, 'two');
SELECT widecol.flush('tk');
SELECT * FROM dr('SELECT c, v FROM tk WHERE k = 1');
TRUNCATE tk;
SELECT * FROM dr('SELECT c, v FROM tk WHERE k = 1');

-- a role without SELECT is refused before anything is read
CREATE ROLE direct_reads_nobody;
GRANT USAGE ON SCHEMA direct_reads_t TO direct_reads_nobody;
SET ROLE direct_reads_nobody;
SELECT v FROM kv WHERE k = 1 AND c = 1;
RESET ROLE;
REVOKE USAGE ON SCHEMA direct_reads_t FROM direct_reads_nobody;
DROP ROLE direct_reads_nobody;

-- widecol.drop_table(): nothing is read from the dropped table's files
SELECT * FROM dr('SELECT v FROM kv WHERE k = 1 AND c = 1');
SELECT widecol.drop_table('kv');
SELECT * FROM dr('SELECT v FROM kv WHERE k = 1 AND c = 1');

SELECT enabled, tables > 0 AS tables, reads > 0 AS reads, resident > 0 AS resident
    FROM widecol.direct_read_stats();
