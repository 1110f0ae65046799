--
-- matview: materialized views on one node.  Seed 002's solution 1 (the
-- latest events by state) row for row; a view equals its base queried by
-- the view's key after random writes, updates that move rows between view
-- keys, deletes of rows, ranges and partitions, and NULLs; TTLs carry
-- over; a view created over existing rows is filled; WHERE conditions;
-- every refusal with its hint.
-- Own keyspace (server matview_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('matview_t');
DROP SCHEMA IF EXISTS matview_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA matview_t;
SET search_path = matview_t, public;

CREATE SERVER matview_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

------------------------------------------------------------------------------
-- Seed 002, solution 1: a view by state over the latest events by device
------------------------------------------------------------------------------
CREATE FOREIGN TABLE latest_events_by_device (
    device_id   uuid,
    "timestamp" timestamp,
    state       text,
    value       text
) SERVER matview_t OPTIONS (primary_key '((device_id))');

-- CREATE MATERIALIZED VIEW latest_events_by_state AS
--   SELECT * FROM latest_events_by_device
--   WHERE state IS NOT NULL AND device_id IS NOT NULL
--   PRIMARY KEY ((state), device_id);
SELECT widecol.create_materialized_view('latest_events_by_state', 'latest_events_by_device',
    '((state), device_id)', "where" => 'state IS NOT NULL AND device_id IS NOT NULL');
SELECT option_name, option_value FROM pg_options_to_table(
    (SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'latest_events_by_state'::regclass))
WHERE option_name <> 'materialized_view';
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'latest_events_by_state'::regclass AND attnum > 0 ORDER BY attnum;

INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'on', 'event 1-1');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'off', 'event 1-2');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'on', 'event 1-3');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'off', 'event 2-1');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'off', 'event 3-1');

-- Find all the latest events with state 'on' (the seed's output, in its format)
SELECT state, device_id, to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS.US') || '+0000' AS "timestamp", value
FROM latest_events_by_state
WHERE state = 'on';
-- Find all the latest events with state 'off'
SELECT state, device_id, to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS.US') || '+0000' AS "timestamp", value
FROM latest_events_by_state
WHERE state = 'off';
-- the partition key is pushed down: no filtering
EXPLAIN (COSTS OFF) SELECT * FROM latest_events_by_state WHERE state = 'off';

------------------------------------------------------------------------------
-- Random writes: the view equals the base queried by the view's key
------------------------------------------------------------------------------
CREATE FOREIGN TABLE items (
    shop     text,
    item     int,
    category text,
    price    int,
    note     text
) SERVER matview_t OPTIONS (primary_key '((shop), item)');

-- rows that exist before the view: the view is filled from them
SELECT setseed(0.14);
INSERT INTO items
SELECT 's' || (i % 7), i, 'c' || floor(random() * 4)::int, (random() * 100)::int, 'n' || i
FROM generate_series(1, 60) i;

SELECT widecol.create_materialized_view('items_by_category', 'items',
    '((category), shop, item)', 'shop ASC, item DESC');

-- the comparison: every category, view against the base (allow_filtering) both ways
CREATE FUNCTION view_diff() RETURNS TABLE (side text, n bigint) LANGUAGE sql
SET widecol.allow_filtering = on AS $$
    WITH c(category) AS (VALUES ('c0'), ('c1'), ('c2'), ('c3'), ('c4')),
    b AS (SELECT i.category, i.shop, i.item, i.price, i.note FROM c, items i
          WHERE i.category = c.category),
    v AS (SELECT m.category, m.shop, m.item, m.price, m.note FROM c
          CROSS JOIN LATERAL (SELECT * FROM items_by_category x
                              WHERE x.category = c.category) m)
    SELECT 'base only', count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM v) d
    UNION ALL
    SELECT 'view only', count(*) FROM (SELECT * FROM v EXCEPT ALL SELECT * FROM b) d
    UNION ALL
    SELECT 'view rows', count(*) FROM v
$$;
SELECT * FROM view_diff();

-- more inserts, upserts that move rows to another category, NULLs
INSERT INTO items
SELECT 's' || (i % 9), i, 'c' || floor(random() * 5)::int, (random() * 100)::int, NULL
FROM generate_series(40, 140) i;
SELECT * FROM view_diff();
UPDATE items SET category = 'c4' WHERE shop = 's1' AND item = 1;
UPDATE items SET category = 'c0', price = 1 WHERE shop = 's3' AND item IN (3, 10, 17, 24);
UPDATE items SET note = NULL WHERE shop = 's2' AND item = 2;
UPDATE items SET category = NULL WHERE shop = 's4' AND item = 4;
SELECT * FROM view_diff();
SELECT category, shop, item, price, note FROM items_by_category
WHERE category = 'c0' AND shop = 's3';
-- ORDER BY the view's clustering order: shop ASC, item DESC
SELECT shop, item FROM items_by_category WHERE category = 'c4' AND shop = 's1' LIMIT 3;

-- deletes: a row, a clustering range, a whole partition
DELETE FROM items WHERE shop = 's5' AND item = 5;
DELETE FROM items WHERE shop = 's6' AND item >= 50;
DELETE FROM items WHERE shop = 's0';
SELECT * FROM view_diff();
SELECT count(*) AS s0_rows FROM items_by_category
WHERE category IN ('c0', 'c1', 'c2', 'c3', 'c4') AND shop = 's0';

-- a transaction's writes reach the view at commit, together
BEGIN;
INSERT INTO items VALUES ('s8', 1000, 'c2', 5, 'tx');
UPDATE items SET category = 'c3' WHERE shop = 's8' AND item = 44;
COMMIT;
SELECT * FROM view_diff();

------------------------------------------------------------------------------
-- TTL carries over; WHERE with equality
------------------------------------------------------------------------------
SELECT widecol.create_materialized_view('cheap_items', 'items',
    '((category), shop, item)', NULL, 'price = 1 AND note IS NOT NULL');
SELECT category, shop, item, price FROM cheap_items WHERE category = 'c0';
-- 2 s: a 1 s TTL written at the end of a second can expire before the read
SET widecol.ttl = 2;
INSERT INTO items VALUES ('s3', 500, 'c0', 1, 'short-lived');
RESET widecol.ttl;
SELECT item FROM cheap_items WHERE category = 'c0' AND shop = 's3' AND item = 500;
SELECT pg_sleep(2.2);
SELECT item FROM cheap_items WHERE category = 'c0' AND shop = 's3' AND item = 500;
SELECT item FROM items_by_category WHERE category = 'c0' AND shop = 's3' AND item = 500;

-- equality on a key column; view key columns of other types (the node turns
-- their values into key bytes as the extension does: equality and order agree)
SELECT widecol.create_materialized_view('s1_items', 'items',
    '((category), shop, item)', NULL, $$shop = 's1'$$);
SELECT count(*) FILTER (WHERE shop = 's1') AS s1, count(*) AS all_rows FROM s1_items
WHERE category IN ('c0', 'c1', 'c2', 'c3', 'c4');
CREATE FOREIGN TABLE readings (id int, at timestamptz, n int, flag boolean, tag varchar(8))
    SERVER matview_t OPTIONS (primary_key 'id');
INSERT INTO readings
SELECT i, '2021-01-01 00:00:00+00'::timestamptz + (i % 3) * interval '1 day' - interval '2 days',
       i % 4 - 2, i % 2 = 0, 't' || (i % 2)
FROM generate_series(1, 24) i;
SELECT widecol.create_materialized_view('readings_by_at', 'readings', '((at), id)');
SELECT widecol.create_materialized_view('readings_by_n', 'readings', '((n), id)', 'id DESC');
SELECT widecol.create_materialized_view('readings_by_flag', 'readings', '((flag), id)');
SELECT widecol.create_materialized_view('readings_by_tag', 'readings', '((tag), id)');
SELECT at, count(*) FROM readings_by_at
WHERE at IN ('2020-12-30 00:00:00+00', '2020-12-31 00:00:00+00', '2021-01-01 00:00:00+00')
GROUP BY at ORDER BY at;
SELECT n, id FROM readings_by_n WHERE n = -1 LIMIT 3;
SELECT n, count(*) FROM readings_by_n WHERE n IN (-2, -1, 0, 1) GROUP BY n ORDER BY n;
SELECT flag, count(*) FROM readings_by_flag WHERE flag IN (true, false) GROUP BY flag ORDER BY flag;
SELECT count(*) FROM readings_by_tag WHERE tag = 't1';
SELECT widecol.drop_materialized_view('s1_items');
SELECT widecol.drop_materialized_view('readings_by_at');
SELECT widecol.drop_materialized_view('readings_by_n');
SELECT widecol.drop_materialized_view('readings_by_flag');
SELECT widecol.drop_materialized_view('readings_by_tag');

------------------------------------------------------------------------------
-- Refusals
------------------------------------------------------------------------------
\set VERBOSITY default
INSERT INTO items_by_category VALUES ('s1', 1, 'c1', 1, 'x');
UPDATE items_by_category SET price = 2 WHERE category = 'c1' AND shop = 's1' AND item = 1;
DELETE FROM items_by_category WHERE category = 'c1';
COPY items_by_category FROM stdin;
s1	1	c1	1	x
\.
TRUNCATE items_by_category;
-- the key must hold every base key column
SELECT widecol.create_materialized_view('bad', 'items', '((category), shop)');
-- and at most one other column
SELECT widecol.create_materialized_view('bad', 'items', '((category), note, shop, item)');
-- a column the base does not have
SELECT widecol.create_materialized_view('bad', 'items', '((colour), shop, item)');
-- a view key column of a type the node cannot turn into a key
CREATE FOREIGN TABLE prices (sku text, amount numeric) SERVER matview_t OPTIONS (primary_key 'sku');
SELECT widecol.create_materialized_view('bad', 'prices', '((amount), sku)');
-- WHERE forms beyond CQL's
SELECT widecol.create_materialized_view('bad', 'items', '((category), shop, item)', NULL, 'price > 3');
-- bases that are not widecol foreign tables, or are views
CREATE TABLE heap_items (id int PRIMARY KEY, category text);
SELECT widecol.create_materialized_view('bad', 'heap_items', '((category), id)');
SELECT widecol.create_materialized_view('bad', 'items_by_category', '((shop), category, item)');
-- static columns
CREATE FOREIGN TABLE with_static (k text, c int, s text OPTIONS (static 'true'), v text)
    SERVER matview_t OPTIONS (primary_key '((k), c)');
SELECT widecol.create_materialized_view('bad', 'with_static', '((v), k, c)');
SELECT widecol.drop_materialized_view('items');
-- DROP FOREIGN TABLE would leave the view kept by every base write
DROP FOREIGN TABLE cheap_items;
\set VERBOSITY terse

------------------------------------------------------------------------------
-- Drop: the base keeps working, the view is gone
------------------------------------------------------------------------------
SELECT widecol.drop_materialized_view('cheap_items');
SELECT widecol.drop_materialized_view('items_by_category');
SELECT widecol.drop_materialized_view('latest_events_by_state');
SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
WHERE c.relname IN ('items_by_category', 'cheap_items', 'latest_events_by_state');
INSERT INTO items VALUES ('s1', 2000, 'c1', 1, 'after');
SELECT shop, item, category FROM items WHERE shop = 's1' AND item = 2000;

SET client_min_messages = warning;
DROP TABLE heap_items;
CALL widecol_test_drop_keyspaces('matview_t');
DROP SCHEMA matview_t CASCADE;
RESET client_min_messages;
