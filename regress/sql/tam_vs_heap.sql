-- tam_vs_heap: the fdw_vs_heap suite run on tables of the widecol access method
-- (CREATE TABLE ... USING widecol WITH (...)) instead of foreign tables; the
-- rows and results must be those of fdw_vs_heap, only plans and DDL differ.
--
-- fdw_vs_heap: differential test.  The same generated rows go into widecol
-- tables and into heap tables with the equivalent PRIMARY KEY; ~30 queries
-- of the shapes widecol pushes down (partition =, IN, clustering prefix and
-- ranges with BETWEEN and open bounds, ORDER BY in clustering order and its
-- reverse with LIMIT, aggregates, joins with a heap table, LATERAL top-N per
-- key) and a series of writes applied to both must give identical results.
-- Only counts and booleans are printed:
--   diff(q)    -> rows of the widecol result, rows of the heap result,
--                 widecol EXCEPT ALL heap, heap EXCEPT ALL widecol
--   ordered(q) -> rows, and whether both results are equal row by row in
--                 their order (array_agg of the rows)
-- q names the tables {ev} and {kv}; diff() runs it once on ev/kv (widecol)
-- and once on h_ev/h_kv (heap).
-- INSERT into widecol is an upsert; the heap side uses INSERT ... ON
-- CONFLICT DO UPDATE for the same effect (spelled out below).
-- Own keyspace (server tam_vs_heap_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('tam_vs_heap_t');
DROP SCHEMA IF EXISTS tam_vs_heap_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA tam_vs_heap_t;
SET search_path = tam_vs_heap_t, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
-- Only counts and booleans matter here: notices (such as warnings about the
-- cell tombstones that the NULLs of the INSERTs write) are not part of the
-- output.
SET client_min_messages = warning;

CREATE SERVER tam_vs_heap_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- composite partition key, clustering (ts DESC, seq ASC)
CREATE TABLE ev (
    tenant integer,
    region text,
    ts     timestamptz,
    seq    integer,
    amount numeric,
    note   text,
    ref    uuid,
    qty    integer
) USING widecol WITH (
    keyspace = 'tam_vs_heap_t',
    primary_key = '((tenant, region), ts, seq)',
    clustering_order = 'ts DESC, seq ASC'
);
CREATE TABLE h_ev (
    tenant integer,
    region text,
    ts     timestamptz,
    seq    integer,
    amount numeric,
    note   text,
    ref    uuid,
    qty    integer,
    PRIMARY KEY (tenant, region, ts, seq)
);
-- uuid partition key, text clustering ASC
CREATE TABLE kv (
    k   uuid,
    c   text,
    val numeric,
    tag text
) USING widecol WITH (keyspace = 'tam_vs_heap_t', primary_key = '(k, c)');
CREATE TABLE h_kv (
    k   uuid,
    c   text,
    val numeric,
    tag text,
    PRIMARY KEY (k, c)
);
-- a heap table to join with
CREATE TABLE sites (tenant integer, region text, since timestamptz, label text);
INSERT INTO sites VALUES
    (1, 'eu', '2024-01-01 12:00:00+00', 'one-eu'),
    (1, 'us', '2024-01-01 08:00:00+00', 'one-us'),
    (2, 'ap', '2024-01-01 15:00:00+00', 'two-ap'),
    (3, 'eu', '2024-01-01 06:30:00+00', 'three-eu'),
    (3, 'eu', '2024-01-01 09:00:00+00', 'three-eu-late'),
    (5, 'eu', '2024-01-01 00:00:00+00', 'no-such-tenant');

-- 4 tenants x 3 regions x 400 rows (ts from 00:00 to 15:31 on 2024-01-01); NULLs in every regular column;
-- timestamps with microseconds; amounts with trailing zeros
CREATE TABLE src AS
SELECT t AS tenant, r AS region,
       timestamptz '2024-01-01 00:00:00+00' + (i / 3) * interval '7 minutes'
           + ((i / 3) * 7919 % 1000000) * interval '1 microsecond' + t * interval '1 second' AS ts,
       i % 3 AS seq,
       CASE WHEN (i + t) % 11 = 0 THEN NULL
            ELSE round(((i * 7919 + t * 104729) % 100000) / 100.0 - 200, 2) END AS amount,
       CASE WHEN (i + t) % 7 = 0 THEN NULL ELSE 'n' || ((i * 31 + t) % 97) END AS note,
       CASE WHEN i % 5 = 0 THEN NULL ELSE md5(t || r || i)::uuid END AS ref,
       CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 13 + t) % 10 END AS qty
FROM generate_series(1, 4) t, unnest(ARRAY['eu', 'us', 'ap']) r, generate_series(0, 399) i;
INSERT INTO ev SELECT * FROM src;
INSERT INTO h_ev SELECT * FROM src;
CREATE TABLE src_kv AS
SELECT ('00000000-0000-4000-8000-00000000000' || k)::uuid AS k,
       chr(97 + i % 26) || lpad((i / 26)::text, 3, '0') AS c,
       CASE WHEN i % 9 = 0 THEN NULL ELSE (i * k)::numeric / 8 END AS val,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'tag' || (i % 6) END AS tag
FROM generate_series(1, 5) k, generate_series(0, 259) i;
INSERT INTO kv SELECT * FROM src_kv;
INSERT INTO h_kv SELECT * FROM src_kv;
SELECT (SELECT count(*) FROM ev) AS ev_rows, (SELECT count(*) FROM h_ev) AS h_ev_rows,
       (SELECT count(*) FROM kv) AS kv_rows, (SELECT count(*) FROM h_kv) AS h_kv_rows;

CREATE FUNCTION diff(q text, OUT rows_fdw bigint, OUT rows_heap bigint,
                     OUT fdw_minus_heap bigint, OUT heap_minus_fdw bigint)
LANGUAGE plpgsql AS $$
DECLARE
    qf text := replace(replace(q, '{ev}', 'ev'), '{kv}', 'kv');
    qh text := replace(replace(q, '{ev}', 'h_ev'), '{kv}', 'h_kv');
BEGIN
    EXECUTE format('SELECT count(*) FROM (%s) x', qf) INTO rows_fdw;
    EXECUTE format('SELECT count(*) FROM (%s) x', qh) INTO rows_heap;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', qf, qh) INTO fdw_minus_heap;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', qh, qf) INTO heap_minus_fdw;
END
$$;
CREATE FUNCTION ordered(q text, OUT rows bigint, OUT identical boolean)
LANGUAGE plpgsql AS $$
DECLARE
    qf text := replace(replace(q, '{ev}', 'ev'), '{kv}', 'kv');
    qh text := replace(replace(q, '{ev}', 'h_ev'), '{kv}', 'h_kv');
    af text;
    ah text;
BEGIN
    EXECUTE format('SELECT array_agg(x)::text FROM (%s) x', qf) INTO af;
    EXECUTE format('SELECT array_agg(x)::text, count(*) FROM (%s) x', qh) INTO ah, rows;
    identical := af IS NOT DISTINCT FROM ah;
END
$$;

-- 1. the whole table, every column as text (numeric scale, timestamp
-- microseconds, NULLs)
SELECT * FROM diff($$SELECT tenant, region, ts::text, seq, amount::text, note, ref::text, qty FROM {ev}$$);
SELECT * FROM diff($$SELECT k::text, c, val::text, tag FROM {kv}$$);
-- 2. one partition
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 2 AND region = 'us'$$);
-- 3. a partition in clustering order is the heap's ORDER BY ts DESC, seq
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 2 AND region = 'us' ORDER BY ts DESC, seq$$);
SELECT * FROM ordered($$SELECT * FROM {kv} WHERE k = '00000000-0000-4000-8000-000000000003' ORDER BY c$$);
-- 4. IN on one key column, IN on both (cartesian product)
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant IN (1, 3) AND region = 'ap'$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant IN (1, 2, 4) AND region IN ('eu', 'ap')$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = ANY ('{2,3}') AND region IN ('us', 'nowhere')$$);
-- 5. clustering ranges: open bounds, both bounds, BETWEEN
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 1 AND region = 'eu' AND ts > '2024-01-01 12:00:00+00'$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 1 AND region = 'eu' AND ts <= '2024-01-01 03:30:00+00'$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 3 AND region = 'us' AND ts >= '2024-01-01 10:00:00+00' AND ts < '2024-01-01 11:00:00+00'$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 4 AND region = 'ap' AND ts BETWEEN '2024-01-01 05:00:00+00' AND '2024-01-01 06:10:00+00'$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant IN (1, 2) AND region IN ('eu', 'us') AND ts BETWEEN '2024-01-01 12:00:00+00' AND '2024-01-01 13:00:00+00'$$);
SELECT * FROM diff($$SELECT * FROM {kv} WHERE k = '00000000-0000-4000-8000-000000000002' AND c >= 'b' AND c < 'd005'$$);
SELECT * FROM diff($$SELECT * FROM {kv} WHERE k IN ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000004') AND c BETWEEN 'x' AND 'z'$$);
-- 6. clustering prefix = then a range on the next column; a full key
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 2 AND region = 'eu' AND ts = (SELECT ts FROM src WHERE tenant = 2 AND region = 'eu' ORDER BY ts DESC OFFSET 30 LIMIT 1) AND seq >= 1$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 2 AND region = 'eu' AND ts = (SELECT ts FROM src WHERE tenant = 2 AND region = 'eu' ORDER BY ts OFFSET 30 LIMIT 1) AND seq = 2$$);
-- 7. regular-column filters inside partitions (NULL semantics too)
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 3 AND region = 'eu' AND note IS NULL$$);
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant IN (1, 4) AND region = 'us' AND amount > 100 AND qty <> 3$$);
SELECT * FROM diff($$SELECT * FROM {kv} WHERE k = '00000000-0000-4000-8000-000000000005' AND c LIKE 'q%' AND tag IS NOT NULL$$);
-- 8. ORDER BY clustering / reverse with LIMIT, row by row
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 1 AND region = 'ap' ORDER BY ts DESC, seq LIMIT 25$$);
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 1 AND region = 'ap' ORDER BY ts, seq DESC LIMIT 25$$);
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 4 AND region = 'eu' AND ts < '2024-01-01 09:00:00+00' ORDER BY ts DESC, seq LIMIT 10$$);
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 4 AND region = 'eu' AND ts >= '2024-01-01 14:00:00+00' ORDER BY ts, seq DESC LIMIT 10$$);
SELECT * FROM ordered($$SELECT * FROM {kv} WHERE k = '00000000-0000-4000-8000-000000000001' ORDER BY c DESC LIMIT 40$$);
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant IN (2, 3) AND region = 'us' ORDER BY ts DESC, seq, tenant LIMIT 15$$);
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 2 AND region = 'ap' ORDER BY ts DESC, seq OFFSET 100 LIMIT 5$$);
-- 9. aggregates: whole table (full scan), per partition, with NULLs
SELECT * FROM diff($$SELECT tenant, region, count(*), count(amount), sum(amount), min(ts), max(ts), count(DISTINCT ref), avg(qty)::numeric(20,10) FROM {ev} GROUP BY tenant, region$$);
SELECT * FROM diff($$SELECT count(*), sum(amount), max(note), min(ref::text) FROM {ev} WHERE tenant = 3 AND region IN ('eu', 'us', 'ap') AND ts > '2024-01-01 06:00:00+00'$$);
SELECT * FROM diff($$SELECT k, count(*), sum(val), string_agg(tag, ',' ORDER BY c) FROM {kv} GROUP BY k$$);
SELECT * FROM diff($$SELECT qty, count(*), sum(amount) FROM {ev} WHERE tenant = 1 AND region = 'us' GROUP BY qty$$);
-- 10. joins with a heap table (parameterized by the partition key)
SELECT * FROM diff($$SELECT s.label, e.* FROM sites s JOIN {ev} e ON e.tenant = s.tenant AND e.region = s.region WHERE e.ts >= s.since$$);
SELECT * FROM diff($$SELECT s.label, count(*), sum(e.amount) FROM sites s LEFT JOIN {ev} e ON e.tenant = s.tenant AND e.region = s.region AND e.ts < s.since GROUP BY s.label$$);
-- 11. LATERAL top-N per key
SELECT * FROM diff($$SELECT s.label, x.* FROM sites s CROSS JOIN LATERAL (SELECT ts, seq, amount, note FROM {ev} e WHERE e.tenant = s.tenant AND e.region = s.region AND e.ts <= s.since ORDER BY ts DESC, seq LIMIT 3) x$$);
SELECT * FROM diff($$SELECT t.tenant, x.* FROM generate_series(1, 5) t(tenant) CROSS JOIN LATERAL (SELECT ts, seq, amount FROM {ev} e WHERE e.tenant = t.tenant AND e.region = 'us' ORDER BY ts, seq DESC LIMIT 4) x$$);
-- the plans of some of these shapes
EXPLAIN (COSTS OFF)
SELECT * FROM ev WHERE tenant IN (1, 2) AND region IN ('eu', 'us')
  AND ts BETWEEN '2024-01-01 12:00:00+00' AND '2024-01-01 13:00:00+00';
EXPLAIN (COSTS OFF)
SELECT * FROM ev WHERE tenant = 1 AND region = 'ap' ORDER BY ts, seq DESC LIMIT 25;
EXPLAIN (COSTS OFF)
SELECT * FROM kv WHERE k = '00000000-0000-4000-8000-000000000002' AND c >= 'b' AND c < 'd005';
EXPLAIN (COSTS OFF)
SELECT s.label, x.* FROM sites s CROSS JOIN LATERAL (
    SELECT ts, seq, amount, note FROM ev e
    WHERE e.tenant = s.tenant AND e.region = s.region AND e.ts <= s.since
    ORDER BY ts DESC, seq LIMIT 3) x;

-- writes applied to both sides, each followed by a comparison
-- W1. UPDATE of a clustering range inside one partition
UPDATE ev   SET note = 'w1' WHERE tenant = 1 AND region = 'eu' AND ts >= '2024-01-01 14:00:00+00';
UPDATE h_ev SET note = 'w1' WHERE tenant = 1 AND region = 'eu' AND ts >= '2024-01-01 14:00:00+00';
-- W2. UPDATE with an expression and a regular-column filter over IN partitions
UPDATE ev   SET amount = amount * 2, qty = NULL WHERE tenant IN (2, 3) AND region = 'us' AND qty > 5;
UPDATE h_ev SET amount = amount * 2, qty = NULL WHERE tenant IN (2, 3) AND region = 'us' AND qty > 5;
-- W3. UPDATE to NULL of one row by its full key
UPDATE ev   SET ref = NULL, note = NULL WHERE tenant = 4 AND region = 'eu' AND ts = (SELECT max(ts) FROM src WHERE tenant = 4 AND region = 'eu') AND seq = 1;
UPDATE h_ev SET ref = NULL, note = NULL WHERE tenant = 4 AND region = 'eu' AND ts = (SELECT max(ts) FROM src WHERE tenant = 4 AND region = 'eu') AND seq = 1;
SELECT * FROM diff($$SELECT tenant, region, ts, seq, amount::text, note, ref, qty FROM {ev}$$);
-- W4. DELETE of a partition (partition tombstone)
DELETE FROM ev   WHERE tenant = 4 AND region = 'ap';
DELETE FROM h_ev WHERE tenant = 4 AND region = 'ap';
-- W5. DELETE of a clustering range (range tombstone), open bound
DELETE FROM ev   WHERE tenant = 1 AND region = 'us' AND ts < '2024-01-01 04:00:00+00';
DELETE FROM h_ev WHERE tenant = 1 AND region = 'us' AND ts < '2024-01-01 04:00:00+00';
-- W6. DELETE of a BETWEEN range over IN partitions
DELETE FROM ev   WHERE tenant IN (2, 3) AND region = 'eu' AND ts BETWEEN '2024-01-01 10:00:00+00' AND '2024-01-01 12:00:00+00';
DELETE FROM h_ev WHERE tenant IN (2, 3) AND region = 'eu' AND ts BETWEEN '2024-01-01 10:00:00+00' AND '2024-01-01 12:00:00+00';
-- W7. DELETE by clustering prefix = and a range on seq
DELETE FROM ev   WHERE tenant = 2 AND region = 'ap' AND ts = (SELECT ts FROM src WHERE tenant = 2 AND region = 'ap' ORDER BY ts OFFSET 60 LIMIT 1) AND seq > 0;
DELETE FROM h_ev WHERE tenant = 2 AND region = 'ap' AND ts = (SELECT ts FROM src WHERE tenant = 2 AND region = 'ap' ORDER BY ts OFFSET 60 LIMIT 1) AND seq > 0;
-- W8. DELETE with a regular-column filter (read, then row tombstones)
DELETE FROM ev   WHERE tenant = 3 AND region = 'ap' AND (note IS NULL OR amount < -150);
DELETE FROM h_ev WHERE tenant = 3 AND region = 'ap' AND (note IS NULL OR amount < -150);
-- W9. DELETE on the text-clustered table
DELETE FROM kv   WHERE k = '00000000-0000-4000-8000-000000000003' AND c >= 'm' AND c < 'p';
DELETE FROM h_kv WHERE k = '00000000-0000-4000-8000-000000000003' AND c >= 'm' AND c < 'p';
SELECT * FROM diff($$SELECT tenant, region, ts, seq, amount::text, note, ref, qty FROM {ev}$$);
SELECT * FROM diff($$SELECT k, c, val::text, tag FROM {kv}$$);
-- W10. INSERT of existing and new keys with every column: an upsert in
-- widecol; on the heap ON CONFLICT DO UPDATE of every regular column
CREATE TABLE up AS
SELECT tenant, region, ts, seq, amount + 1 AS amount,
       CASE WHEN seq = 0 THEN NULL ELSE 'w10' END AS note, ref,
       coalesce(qty, 0) + 100 AS qty
FROM src WHERE tenant = 1 AND region = 'ap' AND ts > '2024-01-01 15:00:00+00'
UNION ALL
SELECT 1, 'ap', ts + interval '3 days', seq, amount, 'w10 new', ref, qty
FROM src WHERE tenant = 1 AND region = 'ap' AND ts > '2024-01-01 15:00:00+00';
INSERT INTO ev SELECT * FROM up;
INSERT INTO h_ev SELECT * FROM up
ON CONFLICT (tenant, region, ts, seq) DO UPDATE
SET amount = EXCLUDED.amount, note = EXCLUDED.note, ref = EXCLUDED.ref, qty = EXCLUDED.qty;
SELECT * FROM diff($$SELECT tenant, region, ts, seq, amount::text, note, ref, qty FROM {ev}$$);
-- W11. INSERT naming only some columns: the others keep their values for
-- existing keys (heap: ON CONFLICT DO UPDATE of the named columns only) and
-- are NULL for new keys
INSERT INTO ev (tenant, region, ts, seq, note)
SELECT tenant, region, ts, seq + 1, 'w11' FROM src
WHERE tenant = 2 AND region = 'us' AND ts < '2024-01-01 02:00:00+00';
INSERT INTO h_ev (tenant, region, ts, seq, note)
SELECT tenant, region, ts, seq + 1, 'w11' FROM src
WHERE tenant = 2 AND region = 'us' AND ts < '2024-01-01 02:00:00+00'
ON CONFLICT (tenant, region, ts, seq) DO UPDATE SET note = EXCLUDED.note;
INSERT INTO kv (k, c, tag)
SELECT k, c, 'w11' FROM src_kv WHERE k = '00000000-0000-4000-8000-000000000005' AND c LIKE 'a%';
INSERT INTO h_kv (k, c, tag)
SELECT k, c, 'w11' FROM src_kv WHERE k = '00000000-0000-4000-8000-000000000005' AND c LIKE 'a%'
ON CONFLICT (k, c) DO UPDATE SET tag = EXCLUDED.tag;
SELECT * FROM diff($$SELECT tenant, region, ts, seq, amount::text, note, ref, qty FROM {ev}$$);
SELECT * FROM diff($$SELECT k, c, val::text, tag FROM {kv}$$);
-- W12. a deleted partition written again holds only the new rows
INSERT INTO ev SELECT * FROM src WHERE tenant = 4 AND region = 'ap' AND seq = 2;
INSERT INTO h_ev SELECT * FROM src WHERE tenant = 4 AND region = 'ap' AND seq = 2;
SELECT * FROM diff($$SELECT * FROM {ev} WHERE tenant = 4 AND region = 'ap'$$);
-- the read shapes again, on the changed data
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 1 AND region = 'ap' ORDER BY ts DESC, seq LIMIT 50$$);
SELECT * FROM ordered($$SELECT * FROM {ev} WHERE tenant = 1 AND region = 'us' ORDER BY ts, seq DESC LIMIT 50$$);
SELECT * FROM diff($$SELECT tenant, region, count(*), count(note), sum(amount), count(qty) FROM {ev} GROUP BY tenant, region$$);
SELECT * FROM diff($$SELECT s.label, x.* FROM sites s CROSS JOIN LATERAL (SELECT ts, seq, amount, note FROM {ev} e WHERE e.tenant = s.tenant AND e.region = s.region ORDER BY ts, seq DESC LIMIT 5) x$$);

DROP FUNCTION diff(text);
DROP FUNCTION ordered(text);

SET client_min_messages = warning;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT ft.ftrelid FROM pg_foreign_table ft
             JOIN pg_foreign_server s ON s.oid = ft.ftserver
             WHERE s.srvname = 'tam_vs_heap_t'
    LOOP
        PERFORM widecol.drop_table(r.ftrelid);
    END LOOP;
END $$;
DROP SERVER IF EXISTS tam_vs_heap_t CASCADE;
DROP SCHEMA IF EXISTS tam_vs_heap_t CASCADE;
RESET client_min_messages;
