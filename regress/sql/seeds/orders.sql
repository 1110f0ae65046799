--
-- orders: the range queries of two sample workloads with widecol SQL.
--   * orders_by_user_date: PRIMARY KEY ((user_id), order_date,
--     order_id) WITH CLUSTERING ORDER BY (order_date DESC, order_id DESC)
--     and its query WHERE user_id = ? AND order_date >= ? AND order_date <= ?:
--     one partition, both bounds pushed, rows newest first, no Sort;
--   * gyms_by_city: a three-column partition key, clustering
--     (opening_date ASC, gym_name ASC); the first ten by opening date and the
--     ten most recent (the reverse read: no Sort, where CQL sorts in memory);
--   * posts_facebook: the top 20 posts of a user.
-- Order ids are deterministic timeuuids (min_timeuuid of the order time) and
-- never printed.  Own keyspace (server :ks) and schema; can run twice
-- in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;

CREATE SCHEMA :ks;
SET search_path = :ks, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- CREATE KEYSPACE ecommerce WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}
CREATE SERVER :ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'NetworkTopologyStrategy', 'datacenter1': 3}$$);

-- items list<text> -> text[]
CREATE :tbl orders_by_user_date (
    user_id      uuid,
    order_date   date,
    order_id     timeuuid,
    total_amount numeric,
    items        text[]
) :with (:ksopt
    primary_key :eq '((user_id), order_date, order_id)',
    clustering_order :eq 'order_date DESC, order_id DESC'
);

-- three users; user n orders every (5 + n) hours during May and June 2024,
-- several orders on most days
INSERT INTO orders_by_user_date
SELECT ('0000000' || n || '-0000-4000-8000-000000000000')::uuid, t::date, min_timeuuid(t),
       round(9.99 * (1 + i % 7) + n, 2),
       (ARRAY['book', 'pen', 'lamp', 'mug', 'desk'])[1:1 + i % 5]
FROM generate_series(1, 3) n,
     LATERAL generate_series(0, (61 * 24) / (5 + n) - 1) i,
     LATERAL (SELECT timestamptz '2024-05-01 00:00:00+00' + i * (5 + n) * interval '1 hour') tt(t);
SELECT count(*) FROM orders_by_user_date;

-- SELECT * FROM orders_by_user_date WHERE user_id = ? AND order_date >= ?
-- AND order_date <= ?
EXPLAIN (COSTS OFF)
SELECT * FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000'
  AND order_date >= '2024-06-10' AND order_date <= '2024-06-12';
SELECT order_date, timeuuid_timestamp(order_id) AS ordered_at, total_amount, items
FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000'
  AND order_date >= '2024-06-10' AND order_date <= '2024-06-12';
-- the same with BETWEEN and an explicit ORDER BY in clustering order
EXPLAIN (COSTS OFF)
SELECT order_date, order_id FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000'
  AND order_date BETWEEN '2024-06-10' AND '2024-06-12'
ORDER BY order_date DESC, order_id DESC;
-- oldest first inside the range: the reverse read, no Sort
EXPLAIN (COSTS OFF)
SELECT order_date, order_id FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000'
  AND order_date BETWEEN '2024-06-10' AND '2024-06-12'
ORDER BY order_date, order_id LIMIT 2;
SELECT order_date, timeuuid_timestamp(order_id) AS ordered_at FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000'
  AND order_date BETWEEN '2024-06-10' AND '2024-06-12'
ORDER BY order_date, order_id LIMIT 2;
-- open bounds: everything since a date, everything up to a date
SELECT count(*), min(order_date), max(order_date) FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date >= '2024-06-25';
SELECT count(*), min(order_date), max(order_date) FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date < '2024-05-03';
-- one day, then the orders of that day after a given time (clustering
-- prefix = then a range on order_id)
EXPLAIN (COSTS OFF)
SELECT order_id FROM orders_by_user_date
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-05-20'
  AND order_id > max_timeuuid('2024-05-20 12:00:00+00');
SELECT timeuuid_timestamp(order_id) AS ordered_at, total_amount FROM orders_by_user_date
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-05-20';
SELECT timeuuid_timestamp(order_id) AS ordered_at, total_amount FROM orders_by_user_date
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-05-20'
  AND order_id > max_timeuuid('2024-05-20 12:00:00+00');
-- the latest order of each user: LATERAL, one partition read per user
SELECT u.user_id, o.order_date, timeuuid_timestamp(o.order_id) AS ordered_at
FROM (VALUES ('00000001-0000-4000-8000-000000000000'::uuid),
             ('00000002-0000-4000-8000-000000000000'),
             ('00000003-0000-4000-8000-000000000000')) u(user_id)
CROSS JOIN LATERAL (SELECT order_date, order_id FROM orders_by_user_date o
                    WHERE o.user_id = u.user_id LIMIT 1) o
ORDER BY u.user_id;
-- a month's spend per user (IN on the partition key + a date range)
SELECT user_id, count(*), sum(total_amount), sum(cardinality(items)) AS items
FROM orders_by_user_date
WHERE user_id IN ('00000001-0000-4000-8000-000000000000', '00000002-0000-4000-8000-000000000000',
                  '00000003-0000-4000-8000-000000000000')
  AND order_date >= '2024-06-01' AND order_date <= '2024-06-30'
GROUP BY user_id ORDER BY user_id;
-- a range without the partition key is refused
SELECT count(*) FROM orders_by_user_date WHERE order_date = '2024-06-01';

-- the seed's Spark job, in SQL: daily revenue over the whole table (a full
-- scan without WHERE is allowed) written to a serving table
CREATE :tbl daily_revenue (
    order_date date,
    revenue    numeric,
    orders     bigint
) :with (:ksopt primary_key :eq 'order_date');
INSERT INTO daily_revenue
SELECT order_date, sum(total_amount), count(*) FROM orders_by_user_date GROUP BY order_date;
SELECT * FROM daily_revenue
WHERE order_date IN ('2024-05-01', '2024-05-31', '2024-06-30') ORDER BY order_date;
SELECT count(*) AS days, sum(orders) AS orders FROM daily_revenue;

-- deleting a day of a user's orders: a range tombstone on the clustering
-- prefix, no read
EXPLAIN (COSTS OFF)
DELETE FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000' AND order_date = '2024-06-11';
DELETE FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000' AND order_date = '2024-06-11';
SELECT order_date, count(*) FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000'
  AND order_date BETWEEN '2024-06-10' AND '2024-06-12'
GROUP BY order_date ORDER BY order_date DESC;

-- sample workload: gyms across the country.  The seed writes the clustering
-- columns in parentheses, which CQL does not accept either: refused ...
CREATE :tbl gyms_by_city (
    country_code text,
    state        text,
    city         text,
    gym_name     text,
    opening_date timestamptz
) :with (:ksopt
    primary_key :eq '((country_code, state, city), (opening_date, gym_name))',
    clustering_order :eq 'opening_date ASC, gym_name ASC'
);
-- ... so the key is written as CQL has it (and with the column state, where
-- the seed's key says state_province)
CREATE :tbl gyms_by_city (
    country_code text,
    state        text,
    city         text,
    gym_name     text,
    opening_date timestamptz
) :with (:ksopt
    primary_key :eq '((country_code, state, city), opening_date, gym_name)',
    clustering_order :eq 'opening_date ASC, gym_name ASC'
);
INSERT INTO gyms_by_city
SELECT 'us', 'Arizona', 'Phoenix', 'Gym ' || chr(65 + i % 26) || (i / 26),
       timestamptz '2010-01-01 00:00:00+00' + (i / 2) * interval '97 days'
FROM generate_series(0, 29) i;
INSERT INTO gyms_by_city VALUES
    ('us', 'Arizona', 'Tucson', 'Desert Fit', '2015-03-01'),
    ('us', 'California', 'Phoenix', 'Not in Arizona', '2020-01-01');
-- the first ten gyms by opening date in Phoenix, Arizona
EXPLAIN (COSTS OFF)
SELECT * FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
LIMIT 10;
SELECT gym_name, opening_date FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
LIMIT 10;
-- the ten most recently opened: the reverse of the clustering order (two
-- gyms open on each date; ties come by gym_name DESC in the reverse read)
EXPLAIN (COSTS OFF)
SELECT * FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
ORDER BY opening_date DESC, gym_name DESC
LIMIT 10;
SELECT gym_name, opening_date FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
ORDER BY opening_date DESC, gym_name DESC
LIMIT 10;
-- ORDER BY opening_date DESC alone is also served by the reverse read
EXPLAIN (COSTS OFF)
SELECT * FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
ORDER BY opening_date DESC
LIMIT 10;
-- ordering by gym_name alone needs a Sort
EXPLAIN (COSTS OFF)
SELECT * FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
ORDER BY gym_name LIMIT 3;
SELECT gym_name FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
ORDER BY gym_name LIMIT 3;
-- gyms opened in 2012, and on one date from one name on
SELECT gym_name, opening_date FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
  AND opening_date >= '2012-01-01' AND opening_date < '2013-01-01';
EXPLAIN (COSTS OFF)
SELECT gym_name FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
  AND opening_date = '2010-04-08' AND gym_name >= 'Gym D';
SELECT gym_name FROM gyms_by_city
WHERE country_code = 'us' AND state = 'Arizona' AND city = 'Phoenix'
  AND opening_date = '2010-04-08' AND gym_name >= 'Gym D';
-- other cities are other partitions
SELECT state, city, count(*) FROM gyms_by_city
WHERE country_code = 'us' AND state IN ('Arizona', 'California') AND city IN ('Phoenix', 'Tucson')
GROUP BY state, city ORDER BY state, city;

-- sample workload: the top 20 posts of a user
CREATE :tbl posts_facebook (
    user_id uuid,
    post_id timeuuid,
    content text
) :with (:ksopt
    primary_key :eq '(user_id, post_id)',
    clustering_order :eq 'post_id DESC'
);
INSERT INTO posts_facebook
SELECT '0000a000-0000-4000-8000-000000000000', min_timeuuid(timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day'),
       'post ' || i
FROM generate_series(1, 30) i;
EXPLAIN (COSTS OFF)
SELECT content FROM posts_facebook WHERE user_id = '0000a000-0000-4000-8000-000000000000' LIMIT 20;
SELECT string_agg(content, ', ') AS top20
FROM (SELECT content FROM posts_facebook
      WHERE user_id = '0000a000-0000-4000-8000-000000000000' LIMIT 20) p;

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
