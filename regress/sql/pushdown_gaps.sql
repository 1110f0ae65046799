--
-- pushdown_gaps: restrictions the node handles that PostgreSQL used to
-- filter after reading whole partitions (or refused as a full scan):
--   * an OR of partition-key equalities is read as IN;
--   * a multi-column slice (a, b) > (x, y) on clustering columns is a
--     clustering bound;
--   * IN on a clustering column reads one slice of the partition per value.
-- Every result is checked row for row against the same rows in a heap
-- table of this suite (the oracle); EXPLAIN shows each pushdown.
-- Own keyspace (server pushdown_gaps_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('pushdown_gaps_t');
DROP SCHEMA IF EXISTS pushdown_gaps_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA pushdown_gaps_t;
SET search_path = pushdown_gaps_t, public, widecol;

CREATE SERVER pushdown_gaps_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- messages of a chat room by day, hour and sequence
CREATE FOREIGN TABLE msgs (
    room    int,
    day     int,
    hour    int,
    seq     int,
    body    text
) SERVER pushdown_gaps_t OPTIONS (primary_key '((room), day, hour, seq)');
CREATE TABLE h_msgs (room int, day int, hour int, seq int, body text,
                     PRIMARY KEY (room, day, hour, seq));
INSERT INTO h_msgs
SELECT r, d, h, s, r || ':' || d || '/' || h || '/' || s
FROM generate_series(1, 5) r, generate_series(1, 4) d, generate_series(0, 5) h, generate_series(1, 3) s;
INSERT INTO msgs SELECT * FROM h_msgs;

-- the same rows in the same order on both sides
CREATE FUNCTION same(q text, w text DEFAULT 'msgs') RETURNS text LANGUAGE plpgsql AS $$
DECLARE wr text; h text; n bigint;
BEGIN
    EXECUTE format('SELECT array_agg(r::text ORDER BY o), count(*) FROM (SELECT r, row_number() OVER () o FROM (%s) r) x',
                   replace(q, '{t}', w)) INTO wr, n;
    EXECUTE format('SELECT array_agg(r::text ORDER BY o) FROM (SELECT r, row_number() OVER () o FROM (%s) r) x',
                   replace(q, '{t}', 'h_msgs')) INTO h;
    RETURN CASE WHEN wr IS NOT DISTINCT FROM h THEN 'same ' || n || ' rows' ELSE 'DIFFERENT: ' || coalesce(wr, '-') || ' vs ' || coalesce(h, '-') END;
END
$$;
-- rows the scan node returned (EXPLAIN ANALYZE): what the node shipped
CREATE FUNCTION scan_rows(q text, w text DEFAULT 'msgs') RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) ' || replace(q, '{t}', w) INTO j;
    RETURN (SELECT (n->>'Actual Rows')::bigint
              FROM jsonb_path_query(j::jsonb, 'strict $.**') n
             WHERE jsonb_typeof(n) = 'object' AND n->>'Node Type' = 'Foreign Scan'
             LIMIT 1);
END
$$;

------------------------------------------------------------------------------
-- OR of partition-key equalities: IN
------------------------------------------------------------------------------
EXPLAIN (COSTS OFF) SELECT * FROM msgs WHERE room = 2 OR room = 4;
SELECT same('SELECT * FROM {t} WHERE room = 2 OR room = 4 ORDER BY room, day, hour, seq');
SELECT same('SELECT * FROM {t} WHERE (room = 5 OR room = 1 OR room = 5) AND day = 3 ORDER BY room, day, hour, seq');
SELECT scan_rows('SELECT * FROM {t} WHERE (room = 5 OR room = 1 OR room = 5) AND day = 3') AS rows_read;
SELECT same('SELECT count(*) FROM {t} WHERE room = 3 OR room = 99');
-- an OR across columns is no partition key: refused as a full scan
SELECT widecol_try('SELECT * FROM msgs WHERE room = 1 OR day = 2');

------------------------------------------------------------------------------
-- multi-column slices (a, b) > (x, y) on clustering columns
------------------------------------------------------------------------------
EXPLAIN (COSTS OFF)
SELECT * FROM msgs WHERE room = 1 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1);
SELECT same('SELECT * FROM {t} WHERE room = 1 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1) ORDER BY day, hour, seq');
SELECT scan_rows('SELECT * FROM {t} WHERE room = 1 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1)') AS rows_read;
-- after an equality prefix, three columns, inclusive, in clustering order and reversed
EXPLAIN (COSTS OFF)
SELECT * FROM msgs WHERE room = 1 AND day = 2 AND (hour, seq) >= (4, 2) ORDER BY hour DESC, seq DESC;
SELECT same('SELECT * FROM {t} WHERE room = 1 AND day = 2 AND (hour, seq) >= (4, 2) ORDER BY hour DESC, seq DESC');
SELECT same('SELECT * FROM {t} WHERE room IN (2, 3) AND (day, hour, seq) < (1, 2, 2) ORDER BY room, day, hour, seq');
SELECT same('SELECT * FROM {t} WHERE room = 4 AND (day, hour) >= (3, 5) AND hour < 9 ORDER BY day, hour, seq');
-- with a LIMIT pushed to the node (nothing left to filter)
SELECT same('SELECT * FROM {t} WHERE room = 5 AND (day, hour, seq) > (2, 5, 3) ORDER BY day, hour, seq LIMIT 4');
-- a NULL decides at the values before it: (day, hour) > (2, NULL) is day > 2
SELECT same('SELECT * FROM {t} WHERE room = 1 AND (day, hour) > (2, NULL) ORDER BY day, hour, seq');
SELECT same('SELECT * FROM {t} WHERE room = 1 AND (day, hour) <= (2, NULL::int) ORDER BY day, hour, seq');
SELECT same('SELECT * FROM {t} WHERE room = 1 AND (day, hour) < (NULL::int, 2) ORDER BY day, hour, seq');
-- as a parameter of a prepared statement
PREPARE after_(int, int) AS SELECT day, hour, seq FROM msgs WHERE room = 3 AND (day, hour) > ($1, $2) ORDER BY day, hour, seq LIMIT 3;
EXECUTE after_(4, 4);
DEALLOCATE after_;
-- not consecutive clustering columns: PostgreSQL filters the partition
EXPLAIN (COSTS OFF) SELECT * FROM msgs WHERE room = 1 AND (day, seq) < (2, 2);
SELECT same('SELECT * FROM {t} WHERE room = 1 AND (day, seq) < (2, 2) ORDER BY day, hour, seq');

-- clustering columns of one direction, DESC, and of mixed directions
CREATE FOREIGN TABLE msgs_desc (room int, day int, hour int, seq int, body text)
    SERVER pushdown_gaps_t OPTIONS (primary_key '((room), day, hour, seq)',
                                    clustering_order 'day DESC, hour DESC, seq ASC');
INSERT INTO msgs_desc SELECT * FROM h_msgs;
EXPLAIN (COSTS OFF)
SELECT * FROM msgs_desc WHERE room = 2 AND (day, hour) > (2, 3) AND (day, hour) < (4, 1);
SELECT same('SELECT * FROM {t} WHERE room = 2 AND (day, hour) > (2, 3) AND (day, hour) < (4, 1) ORDER BY day DESC, hour DESC, seq', 'msgs_desc');
SELECT same('SELECT * FROM {t} WHERE room = 2 AND (day, hour) >= (3, NULL) ORDER BY day, hour, seq', 'msgs_desc');
SELECT scan_rows('SELECT * FROM {t} WHERE room = 2 AND (day, hour) > (2, 3) AND (day, hour) < (4, 1)', 'msgs_desc') AS rows_read;
EXPLAIN (COSTS OFF) SELECT * FROM msgs_desc WHERE room = 2 AND day = 1 AND (hour, seq) > (2, 2);
SELECT same('SELECT * FROM {t} WHERE room = 2 AND day = 1 AND (hour, seq) > (2, 2) ORDER BY hour, seq', 'msgs_desc');

------------------------------------------------------------------------------
-- IN on a clustering column: one slice of the partition per value
------------------------------------------------------------------------------
EXPLAIN (COSTS OFF) SELECT * FROM msgs WHERE room = 1 AND day IN (3, 1, 3);
SELECT same('SELECT * FROM {t} WHERE room = 1 AND day IN (3, 1, 3) ORDER BY day, hour, seq');
SELECT scan_rows('SELECT * FROM {t} WHERE room = 1 AND day IN (3, 1, 3)') AS rows_read;
-- after an equality prefix, in several partitions, with a value no row has
EXPLAIN (COSTS OFF) SELECT * FROM msgs WHERE room IN (1, 2) AND day = 2 AND hour IN (5, 0, 99);
SELECT same('SELECT * FROM {t} WHERE room IN (1, 2) AND day = 2 AND hour IN (5, 0, 99) ORDER BY room, day, hour, seq');
-- an OR of clustering equalities is the same IN; later columns are filtered
EXPLAIN (COSTS OFF) SELECT * FROM msgs WHERE room = 4 AND (day = 4 OR day = 2) AND seq = 2;
SELECT same('SELECT * FROM {t} WHERE room = 4 AND (day = 4 OR day = 2) AND seq = 2 ORDER BY day, hour');
SELECT scan_rows('SELECT * FROM {t} WHERE room = 4 AND (day = 4 OR day = 2) AND seq = 2') AS rows_read;
-- DESC clustering columns, and pages of two rows across the slices
SELECT same('SELECT * FROM {t} WHERE room = 2 AND day IN (1, 4) AND hour IN (2, 3) ORDER BY day DESC, hour, seq', 'msgs_desc');
SET widecol.fetch_size = 2;
SELECT same('SELECT * FROM {t} WHERE room = 1 AND day IN (3, 1) ORDER BY day, hour, seq');
RESET widecol.fetch_size;
-- NULLs and an empty list match nothing
SELECT same('SELECT count(*) FROM {t} WHERE room = 1 AND day IN (NULL, 2)');
SELECT same('SELECT count(*) FROM {t} WHERE room = 1 AND day = ANY (NULL::int[])');
SELECT same($$SELECT count(*) FROM {t} WHERE room = 1 AND day = ANY ('{}'::int[])$$);
-- the per-partition limit counts the rows of a partition over its slices
SET widecol.per_partition_limit = 2;
SELECT room, day, hour, seq FROM msgs WHERE room IN (1, 2) AND day IN (4, 2) ORDER BY room, day, hour, seq;
RESET widecol.per_partition_limit;
-- writes read the partition and filter (a direct DELETE writes one range)
UPDATE msgs SET body = 'u' WHERE room = 5 AND day IN (1, 2);
UPDATE h_msgs SET body = 'u' WHERE room = 5 AND day IN (1, 2);
SELECT same('SELECT * FROM {t} WHERE room = 5 ORDER BY day, hour, seq');
-- a DELETE by a multi-column slice is one range tombstone, no read
EXPLAIN (COSTS OFF) DELETE FROM msgs WHERE room = 3 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1);
DELETE FROM msgs WHERE room = 3 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1);
DELETE FROM msgs_desc WHERE room = 3 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1);
DELETE FROM h_msgs WHERE room = 3 AND (day, hour) > (2, 3) AND (day, hour) <= (3, 1);
SELECT same('SELECT * FROM {t} WHERE room = 3 ORDER BY day, hour, seq');
SELECT same('SELECT * FROM {t} WHERE room = 3 ORDER BY day, hour, seq', 'msgs_desc');
