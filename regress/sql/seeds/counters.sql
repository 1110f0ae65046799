--
-- counters: widecol.counter columns and counter tables, with the counter
-- workloads of the sample applications (shared by counters, on foreign
-- tables, and tam_counters, on tables USING widecol):
--   * event_aggregations (daily counts and unique users by event type);
--   * a game's player inventory (quantity = quantity + n);
--   * page views per page and day.
-- UPDATE ... SET c = c + n WHERE <whole primary key> creates the row when it
-- is missing, applies without reading (EXPLAIN), sums exactly; INSERT,
-- SET c = <value>, widecol.ttl and widecol.write_timestamp on an increment
-- and mixed tables are refused with a hint; DELETE works;
-- transactions carry the increments and ROLLBACK drops them.
-- Own keyspace (server :ks) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;

CREATE SCHEMA :ks;
SET search_path = :ks, public;
SET datestyle = 'ISO, YMD';

CREATE SERVER :ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- event aggregations: PRIMARY KEY ((event_type), date)
CREATE :tbl event_aggregations (
    event_type   text,
    date         date,
    count        widecol.counter,
    unique_users widecol.counter
) :with (:ksopt primary_key :eq '((event_type), date)');

-- the first increment creates the row: UPDATE 1, not UPDATE 0
DO $$
DECLARE n bigint;
BEGIN
    UPDATE event_aggregations SET count = count + 1
        WHERE event_type = 'click' AND date = '2026-01-01';
    GET DIAGNOSTICS n = ROW_COUNT;
    RAISE NOTICE 'UPDATE %', n;
END
$$;
SELECT * FROM event_aggregations;

-- a day of events, as the tracker sends them: one increment per event
DO $$
BEGIN
    FOR i IN 1 .. 40 LOOP
        UPDATE event_aggregations SET count = count + 1
            WHERE event_type = 'click' AND date = DATE '2026-01-01' + (i % 3);
        IF i % 4 = 0 THEN
            UPDATE event_aggregations
               SET count = count + 1, unique_users = unique_users + 1
             WHERE event_type = 'page_view' AND date = DATE '2026-01-01' + (i % 2);
        END IF;
    END LOOP;
END
$$;
SELECT event_type, date, count, unique_users
  FROM event_aggregations ORDER BY event_type, date;
-- daily counts by event type, and the totals
SELECT event_type, sum(count) AS events, sum(unique_users) AS users
  FROM event_aggregations GROUP BY event_type ORDER BY event_type;
SELECT date, count FROM event_aggregations WHERE event_type = 'click' ORDER BY date DESC;

-- c - n, n + c, and an expression for n; a counter may go below zero
UPDATE event_aggregations SET count = count - 5
    WHERE event_type = 'click' AND date = '2026-01-02';
UPDATE event_aggregations SET unique_users = 2 * 3 + unique_users
    WHERE event_type = 'click' AND date = '2026-01-02';
UPDATE event_aggregations SET unique_users = unique_users - 10
    WHERE event_type = 'signup' AND date = '2026-01-02';
SELECT * FROM event_aggregations WHERE event_type IN ('click', 'signup') ORDER BY 1, 2;

-- the partition key by IN: one increment per partition
UPDATE event_aggregations SET count = count + 100
    WHERE event_type IN ('click', 'signup') AND date = '2026-01-02';
SELECT * FROM event_aggregations
 WHERE event_type IN ('click', 'signup') AND date = '2026-01-02' ORDER BY 1;

-- no read before the write
EXPLAIN (COSTS OFF) UPDATE event_aggregations SET count = count + 1
    WHERE event_type = 'click' AND date = '2026-01-01';

-- a prepared increment
PREPARE bump(text, date, bigint) AS
    UPDATE event_aggregations SET count = count + $3 WHERE event_type = $1 AND date = $2;
EXECUTE bump('purchase', '2026-01-03', 7);
EXECUTE bump('purchase', '2026-01-03', 8);
DEALLOCATE bump;
SELECT * FROM event_aggregations WHERE event_type = 'purchase';

-- refused, each with a hint
INSERT INTO event_aggregations VALUES ('click', '2026-01-09', 1, 1);
UPDATE event_aggregations SET count = 5 WHERE event_type = 'click' AND date = '2026-01-01';
UPDATE event_aggregations SET count = unique_users + 1
    WHERE event_type = 'click' AND date = '2026-01-01';
UPDATE event_aggregations SET count = count + 1 WHERE event_type = 'click';
UPDATE event_aggregations SET count = count + NULL
    WHERE event_type = 'click' AND date = '2026-01-01';
COPY event_aggregations FROM stdin;
click	2026-01-09	1	1
\.
-- CQL's USING TTL and USING TIMESTAMP on a counter update: the settings
-- are refused too (a counter never expires; nothing is counted)
SET widecol.ttl = 60;
UPDATE event_aggregations SET count = count + 1 WHERE event_type = 'click' AND date = '2026-01-01';
RESET widecol.ttl;
SET widecol.write_timestamp = '1000';
UPDATE event_aggregations SET count = count + 1 WHERE event_type = 'click' AND date = '2026-01-01';
RESET widecol.write_timestamp;
SELECT count, unique_users FROM event_aggregations WHERE event_type = 'click' AND date = '2026-01-01';
CREATE :tbl mixed (k int, hits widecol.counter, note text)
    :with (:ksopt primary_key :eq '((k))');
CREATE :tbl counter_key (k widecol.counter, v widecol.counter)
    :with (:ksopt primary_key :eq '((k))');
\if :tam
-- RETURNING cannot show a counter that was never read
UPDATE event_aggregations SET count = count + 1
    WHERE event_type = 'click' AND date = '2026-01-01' RETURNING count;
\else
CREATE FOREIGN TABLE static_counter (k int, c int, s widecol.counter OPTIONS (static 'true'),
    v widecol.counter) SERVER :ks OPTIONS (primary_key '((k), c)');
\endif

-- DELETE removes the row (incrementing a deleted counter again is not
-- reliable on a cluster, as in Cassandra; on one node it counts from 0)
DELETE FROM event_aggregations WHERE event_type = 'purchase' AND date = '2026-01-03';
SELECT count(*) FROM event_aggregations WHERE event_type = 'purchase';
UPDATE event_aggregations SET count = count + 3
    WHERE event_type = 'purchase' AND date = '2026-01-03';
SELECT * FROM event_aggregations WHERE event_type = 'purchase';

-- transactions: the increments go at commit; ROLLBACK drops them
BEGIN;
UPDATE event_aggregations SET count = count + 1000
    WHERE event_type = 'refund' AND date = '2026-01-04';
UPDATE event_aggregations SET count = count + 1000
    WHERE event_type = 'refund' AND date = '2026-01-04';
ROLLBACK;
SELECT count(*) FROM event_aggregations WHERE event_type = 'refund';
BEGIN;
UPDATE event_aggregations SET count = count + 2
    WHERE event_type = 'refund' AND date = '2026-01-04';
SAVEPOINT s;
UPDATE event_aggregations SET count = count + 500
    WHERE event_type = 'refund' AND date = '2026-01-04';
ROLLBACK TO SAVEPOINT s;
UPDATE event_aggregations SET count = count + 3
    WHERE event_type = 'refund' AND date = '2026-01-04';
COMMIT;
SELECT event_type, date, count FROM event_aggregations WHERE event_type = 'refund';
-- a read inside the transaction sees its own increments
BEGIN;
UPDATE event_aggregations SET count = count + 4
    WHERE event_type = 'refund' AND date = '2026-01-04';
UPDATE event_aggregations SET count = count + 6
    WHERE event_type = 'chargeback' AND date = '2026-01-04';
SELECT event_type, count FROM event_aggregations
 WHERE event_type IN ('refund', 'chargeback') AND date = '2026-01-04' ORDER BY 1;
COMMIT;
SELECT event_type, count FROM event_aggregations
 WHERE event_type IN ('refund', 'chargeback') AND date = '2026-01-04' ORDER BY 1;

-- the inventory of a game: quantities by player and item
CREATE :tbl player_inventory (
    player_id uuid,
    item_id   text,
    quantity  widecol.counter
) :with (:ksopt primary_key :eq '((player_id), item_id)');
UPDATE player_inventory SET quantity = quantity + 10
    WHERE player_id = '11111111-1111-1111-1111-111111111111' AND item_id = 'potion';
UPDATE player_inventory SET quantity = quantity + 1
    WHERE player_id = '11111111-1111-1111-1111-111111111111' AND item_id = 'sword';
UPDATE player_inventory SET quantity = quantity - 3
    WHERE player_id = '11111111-1111-1111-1111-111111111111' AND item_id = 'potion';
UPDATE player_inventory SET quantity = quantity + 5
    WHERE player_id = '22222222-2222-2222-2222-222222222222' AND item_id = 'potion';
SELECT * FROM player_inventory ORDER BY player_id, item_id;
SELECT item_id, sum(quantity) FROM player_inventory GROUP BY item_id ORDER BY item_id;
-- an item used up, then dropped from the inventory
UPDATE player_inventory SET quantity = quantity - 1
    WHERE player_id = '11111111-1111-1111-1111-111111111111' AND item_id = 'sword';
DELETE FROM player_inventory
    WHERE player_id = '11111111-1111-1111-1111-111111111111' AND item_id = 'sword';
SELECT * FROM player_inventory WHERE player_id = '11111111-1111-1111-1111-111111111111';

-- page views: a partition per page, a row per day; the counters survive a
-- flush and a compaction
CREATE :tbl page_views (
    page  text,
    day   date,
    views widecol.counter
) :with (:ksopt primary_key :eq '((page), day)');
DO $$
BEGIN
    FOR i IN 1 .. 30 LOOP
        UPDATE page_views SET views = views + 1
            WHERE page = '/home' AND day = DATE '2026-02-01' + (i % 5);
        UPDATE page_views SET views = views + i
            WHERE page = '/pricing' AND day = '2026-02-01';
    END LOOP;
END
$$;
SELECT widecol.flush('page_views'::regclass);
UPDATE page_views SET views = views + 1000 WHERE page = '/pricing' AND day = '2026-02-01';
SELECT widecol.flush('page_views'::regclass);
SELECT widecol.compact('page_views'::regclass);
SELECT page, day, views FROM page_views ORDER BY page, day;
SELECT page, sum(views) FROM page_views GROUP BY page ORDER BY page;

-- a table without clustering columns
CREATE :tbl totals (name text, n widecol.counter)
    :with (:ksopt primary_key :eq '((name))');
UPDATE totals SET n = n + 1 WHERE name = 'a';
UPDATE totals SET n = n + 1 WHERE name = 'a';
UPDATE totals SET n = n + 1 WHERE name IN ('a', 'b');
SELECT * FROM totals ORDER BY name;

SET client_min_messages = warning;
DROP SCHEMA :ks CASCADE;
CALL widecol_test_drop_keyspaces(:'ks');
