--
-- pushdown_gaps: restrictions the node handles that PostgreSQL used to
-- filter after reading whole partitions (or refused as a full scan):
--   * an OR of partition-key equalities is read as IN;
--   * a multi-column slice (a, b) > (x, y) on clustering columns is a
--     clustering bound.
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
CREATE FUNCTION same(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE w text; h text; n bigint;
BEGIN
    EXECUTE format('SELECT array_agg(r::text ORDER BY o), count(*) FROM (SELECT r, row_number() OVER () o FROM (%s) r) x',
                   replace(q, '{t}', 'msgs')) INTO w, n;
    EXECUTE format('SELECT array_agg(r::text ORDER BY o) FROM (SELECT r, row_number() OVER () o FROM (%s) r) x',
                   replace(q, '{t}', 'h_msgs')) INTO h;
    RETURN CASE WHEN w IS NOT DISTINCT FROM h THEN 'same ' || n || ' rows' ELSE 'DIFFERENT: ' || coalesce(w, '-') || ' vs ' || coalesce(h, '-') END;
END
$$;
-- rows the scan node returned (EXPLAIN ANALYZE): what the node shipped
CREATE FUNCTION scan_rows(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) ' || replace(q, '{t}', 'msgs') INTO j;
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
