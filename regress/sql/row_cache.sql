--
-- row_cache: point reads of tables with the option caching 'rows' answered
-- from the shared-memory row cache (widecol.row_cache_size_mb, set in
-- regress.conf).  Every read is checked against the same read with the
-- cache bypassed (widecol.row_cache = off) after each kind of change:
-- overwrite, delete, range delete, TTL expiry, counters, collection
-- append, a rolled-back transaction, COPY, ALTER and DROP; hits show in
-- widecol.row_cache_stats().
-- Own keyspace (server row_cache_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('row_cache_t');
DROP SCHEMA IF EXISTS row_cache_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA row_cache_t;
SET search_path = row_cache_t, public, widecol;

CREATE SERVER row_cache_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

SELECT enabled, slots > 0 AS has_slots FROM widecol.row_cache_stats();

-- rc(q): run the point read q twice with the cache (the second may be a
-- hit), then once with the cache bypassed; its answer, whether the three
-- agree, and whether the cache answered.
CREATE FUNCTION rc(q text, OUT answer text, OUT same boolean, OUT hit boolean)
LANGUAGE plpgsql AS $$
DECLARE
    h0 bigint;
    r1 text;
    r2 text;
    r3 text;
BEGIN
    SELECT hits INTO h0 FROM widecol.row_cache_stats();
    EXECUTE format('SELECT string_agg(x::text, %L) FROM (%s) x', '; ', q) INTO r1;
    EXECUTE format('SELECT string_agg(x::text, %L) FROM (%s) x', '; ', q) INTO r2;
    hit := (SELECT hits FROM widecol.row_cache_stats()) > h0;
    PERFORM set_config('widecol.row_cache', 'off', true);
    EXECUTE format('SELECT string_agg(x::text, %L) FROM (%s) x', '; ', q) INTO r3;
    PERFORM set_config('widecol.row_cache', 'on', true);
    answer := r2;
    same := r1 IS NOT DISTINCT FROM r2 AND r2 IS NOT DISTINCT FROM r3;
END
$$;

CREATE FOREIGN TABLE kv (k int, c int, v text, n int)
    SERVER row_cache_t OPTIONS (primary_key '((k), c)', caching 'rows');
INSERT INTO kv VALUES (1, 1, 'a', 10), (1, 2, 'b', 20), (1, 3, 'c', 30), (2, 1, 'x', 1);

-- read, then a hit
SELECT * FROM rc('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
SELECT * FROM rc('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
-- a missing row is cached as missing, and appears when written
SELECT * FROM rc('SELECT v FROM kv WHERE k = 9 AND c = 9');
INSERT INTO kv VALUES (9, 9, 'new', 0);
SELECT * FROM rc('SELECT v FROM kv WHERE k = 9 AND c = 9');
-- overwrite (INSERT is an upsert) and UPDATE
INSERT INTO kv VALUES (1, 1, 'a2', 11);
SELECT * FROM rc('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
UPDATE kv SET n = n + 1 WHERE k = 1 AND c = 1;
SELECT * FROM rc('SELECT v, n FROM kv WHERE k = 1 AND c = 1');
-- delete of a row
SELECT * FROM rc('SELECT v FROM kv WHERE k = 2 AND c = 1');
DELETE FROM kv WHERE k = 2 AND c = 1;
SELECT * FROM rc('SELECT v FROM kv WHERE k = 2 AND c = 1');
-- range delete
SELECT * FROM rc('SELECT v FROM kv WHERE k = 1 AND c = 3');
DELETE FROM kv WHERE k = 1 AND c >= 2;
SELECT * FROM rc('SELECT v FROM kv WHERE k = 1 AND c = 3');
SELECT * FROM rc('SELECT v FROM kv WHERE k = 1 AND c = 1');
-- a partition delete
DELETE FROM kv WHERE k = 1;
SELECT * FROM rc('SELECT v FROM kv WHERE k = 1 AND c = 1');

-- a rolled-back transaction changes nothing; inside it, its own writes are
-- read (past the cache)
INSERT INTO kv VALUES (3, 1, 'kept', 3);
SELECT * FROM rc('SELECT v FROM kv WHERE k = 3 AND c = 1');
BEGIN;
UPDATE kv SET v = 'rolled back' WHERE k = 3 AND c = 1;
SELECT v FROM kv WHERE k = 3 AND c = 1;
ROLLBACK;
SELECT * FROM rc('SELECT v FROM kv WHERE k = 3 AND c = 1');
BEGIN;
UPDATE kv SET v = 'committed' WHERE k = 3 AND c = 1;
SELECT v FROM kv WHERE k = 3 AND c = 1;
COMMIT;
SELECT * FROM rc('SELECT v FROM kv WHERE k = 3 AND c = 1');

-- COPY
SELECT * FROM rc('SELECT v FROM kv WHERE k = 4 AND c = 1');
COPY kv FROM stdin;
4	1	copied	4
4	2	copied too	4
\.
SELECT * FROM rc('SELECT v FROM kv WHERE k = 4 AND c = 1');

-- TTL: the entry ends when the earliest returned cell expires
SET widecol.ttl = 2;
INSERT INTO kv VALUES (5, 1, 'expiring', 5);
RESET widecol.ttl;
SELECT * FROM rc('SELECT v, n FROM kv WHERE k = 5 AND c = 1');
SELECT pg_sleep(2.5);
SELECT * FROM rc('SELECT v, n FROM kv WHERE k = 5 AND c = 1');

-- ALTER: a new column is read at once
SELECT * FROM rc('SELECT * FROM kv WHERE k = 3 AND c = 1');
ALTER FOREIGN TABLE kv ADD COLUMN w text;
UPDATE kv SET w = 'added' WHERE k = 3 AND c = 1;
SELECT * FROM rc('SELECT * FROM kv WHERE k = 3 AND c = 1');

-- reads that are not cached: a partition, a session with the cache off
SELECT * FROM rc('SELECT c, v FROM kv WHERE k = 4');
SET widecol.row_cache = off;
SELECT * FROM rc('SELECT v FROM kv WHERE k = 4 AND c = 2');
RESET widecol.row_cache;

-- counters
CREATE FOREIGN TABLE hits (page text, day int, views widecol.counter)
    SERVER row_cache_t OPTIONS (primary_key '((page), day)', caching 'rows');
UPDATE hits SET views = views + 1 WHERE page = 'home' AND day = 1;
SELECT * FROM rc($$SELECT views FROM hits WHERE page = 'home' AND day = 1$$);
UPDATE hits SET views = views + 5 WHERE page = 'home' AND day = 1;
SELECT * FROM rc($$SELECT views FROM hits WHERE page = 'home' AND day = 1$$);

-- collections: an append is a write without a read
CREATE FOREIGN TABLE carts (u int, c int, items text[] OPTIONS (cql_type 'list<text>'), note text)
    SERVER row_cache_t OPTIONS (primary_key '((u), c)', caching 'rows');
INSERT INTO carts VALUES (1, 1, ARRAY['book'], 'n');
SELECT * FROM rc('SELECT note FROM carts WHERE u = 1 AND c = 1');
SELECT * FROM rc('SELECT items FROM carts WHERE u = 1 AND c = 1');
UPDATE carts SET items = items || ARRAY['pen'] WHERE u = 1 AND c = 1;
SELECT * FROM rc('SELECT items FROM carts WHERE u = 1 AND c = 1');

-- a table of the widecol access method
CREATE TABLE tk (k int, c int, v text) USING widecol
    WITH (keyspace = 'row_cache_t', primary_key = '((k), c)', caching = 'rows');
INSERT INTO tk VALUES (1, 1, 'one');
SELECT * FROM rc('SELECT v FROM tk WHERE k = 1 AND c = 1');
UPDATE tk SET v = 'uno' WHERE k = 1 AND c = 1;
SELECT * FROM rc('SELECT v FROM tk WHERE k = 1 AND c = 1');
TRUNCATE tk;
SELECT * FROM rc('SELECT v FROM tk WHERE k = 1 AND c = 1');

-- a table without the option never uses the cache
CREATE FOREIGN TABLE plain (k int, v text) SERVER row_cache_t OPTIONS (primary_key 'k');
INSERT INTO plain VALUES (1, 'p');
SELECT * FROM rc('SELECT v FROM plain WHERE k = 1');

-- widecol.drop_table() drops the engine table; the foreign table reads empty
SELECT * FROM rc('SELECT v FROM kv WHERE k = 3 AND c = 1');
SELECT widecol.drop_table('kv');
SELECT * FROM rc('SELECT v FROM kv WHERE k = 3 AND c = 1');

SELECT hits > 0 AS hits, misses > 0 AS misses, fills > 0 AS fills FROM widecol.row_cache_stats();
