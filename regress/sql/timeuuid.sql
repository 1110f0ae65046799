--
-- timeuuid: the widecol.timeuuid type (CQL timeuuid), its order, its
-- generators and its indexes.  Real current times never reach the output:
-- values made by now_timeuuid() are only compared with each other.
-- Can run twice in a row.
--
SET search_path = public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- input and output: canonical text, lowercase out, any case in
SELECT '50554d6e-29bb-11e5-b345-feff819cdc9f'::timeuuid;
SELECT 'FE2B4360-28C6-11E2-81C1-0800200C9A66'::timeuuid;
SELECT timeuuid_out(timeuuid_in('00000000-0000-1000-8000-000000000000'));
SELECT t::text::timeuuid = t AS round_trip
FROM (VALUES ('50554d6e-29bb-11e5-b345-feff819cdc9f'::timeuuid)) v(t);
-- binary send/recv
SELECT timeuuid_send('50554d6e-29bb-11e5-b345-feff819cdc9f');

-- malformed text
SELECT 'not-a-uuid'::timeuuid;
SELECT '50554d6e29bb11e5b345feff819cdc9f'::timeuuid;
SELECT '50554d6e-29bb-11e5-b345-feff819cdc9f0'::timeuuid;
SELECT '50554d6e-29bb-11e5-b345-feff819cdc9'::timeuuid;
SELECT '{50554d6e-29bb-11e5-b345-feff819cdc9f}'::timeuuid;
-- not version 1
SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::timeuuid;
SELECT '00000000-0000-0000-0000-000000000000'::timeuuid;
SELECT '50554d6e-29bb-21e5-b345-feff819cdc9f'::timeuuid;

-- time of a timeuuid (CQL toTimestamp), to the microsecond
SELECT timeuuid_timestamp('50554d6e-29bb-11e5-b345-feff819cdc9f');
SELECT timeuuid_timestamp('00000000-0000-1000-8000-000000000000');
SELECT timeuuid_timestamp('ffffffff-ffff-1fff-bfff-ffffffffffff');

-- order across timestamps: time_hi, then time_mid, then time_low, whatever
-- the text (and uuid) order says
CREATE TABLE timeuuid_vals (label text, id timeuuid);
INSERT INTO timeuuid_vals VALUES
    ('low max',  'ffffffff-0000-1000-8000-000000000000'),
    ('mid 1',    '00000000-0001-1000-8000-000000000000'),
    ('hi 1',     '00000000-0000-1001-8000-000000000000'),
    ('zero',     '00000000-0000-1000-8000-000000000000'),
    ('2015',     '50554d6e-29bb-11e5-b345-feff819cdc9f'),
    ('2012',     'fe2b4360-28c6-11e2-81c1-0800200c9a66'),
    -- same timestamp as '2015', other clock sequence and node bytes
    ('2015 00',  '50554d6e-29bb-11e5-0000-000000000000'),
    ('2015 7f',  '50554d6e-29bb-11e5-7f7f-7f7f7f7f7f7f'),
    ('2015 80',  '50554d6e-29bb-11e5-8080-808080808080'),
    ('2015 ff',  '50554d6e-29bb-11e5-ffff-ffffffffffff'),
    ('2015 +1',  '50554d6e-29bb-11e5-b345-feff819cdca0');
SELECT label, id, timeuuid_timestamp(id) FROM timeuuid_vals ORDER BY id;
SELECT label, id FROM timeuuid_vals ORDER BY id DESC LIMIT 3;
-- uuid order is different
SELECT label FROM timeuuid_vals ORDER BY id::uuid LIMIT 3;

-- the operators agree with each other and with timeuuid_cmp
SELECT a.label, b.label, a.id < b.id AS lt, a.id <= b.id AS le,
       a.id = b.id AS eq, a.id <> b.id AS ne, a.id >= b.id AS ge,
       a.id > b.id AS gt, timeuuid_cmp(a.id, b.id) AS cmp
FROM timeuuid_vals a, timeuuid_vals b
WHERE a.label IN ('2015', '2015 7f', '2015 80', 'hi 1')
  AND b.label IN ('2015', '2015 80', 'mid 1')
ORDER BY a.id, b.id;
SELECT count(*) AS inconsistent
FROM timeuuid_vals a, timeuuid_vals b
WHERE (a.id < b.id) <> (timeuuid_cmp(a.id, b.id) < 0)
   OR (a.id = b.id) <> (a.label = b.label)
   OR (a.id > b.id) <> (b.id < a.id)
   OR (a.id <= b.id) <> NOT (a.id > b.id)
   OR (a.id >= b.id) <> NOT (a.id < b.id)
   OR (a.id <> b.id) <> NOT (a.id = b.id);

-- the operators live in schema widecol: without it on the search path,
-- there is no < for timeuuid (and no silent fallback to uuid order)
SET search_path = public;
SELECT 'ffffffff-0000-1000-8000-000000000000'::widecol.timeuuid
     < '00000000-0001-1000-8000-000000000000'::widecol.timeuuid;
SELECT 'ffffffff-0000-1000-8000-000000000000'::widecol.timeuuid
     OPERATOR(widecol.<) '00000000-0001-1000-8000-000000000000'::widecol.timeuuid;
SET search_path = public, widecol;

-- min_timeuuid / max_timeuuid (CQL minTimeuuid / maxTimeuuid)
SELECT min_timeuuid('2015-07-14 00:00:18.805899+00') AS min,
       max_timeuuid('2015-07-14 00:00:18.805899+00') AS max;
SELECT timeuuid_timestamp(min_timeuuid('2015-07-14 00:00:18.805899+00')) AS min,
       timeuuid_timestamp(max_timeuuid('2015-07-14 00:00:18.805899+00')) AS max;
SELECT min_timeuuid('1582-10-15 00:00:00+00'),
       max_timeuuid('5236-03-31 21:21:00.684+00');
SELECT min_timeuuid('1582-10-14 23:59:59.999999+00');
SELECT max_timeuuid('5236-03-31 21:21:00.685+00');
SELECT min_timeuuid('infinity');
SELECT max_timeuuid('-infinity');
-- min <= every value of its millisecond <= max, and max < the next min
SELECT label,
       min_timeuuid(timeuuid_timestamp(id)) <= id AS above_min,
       id <= max_timeuuid(timeuuid_timestamp(id)) AS below_max,
       max_timeuuid(timeuuid_timestamp(id))
         < min_timeuuid(timeuuid_timestamp(id) + interval '1 ms') AS next_ms
FROM timeuuid_vals ORDER BY id;

-- messages in a channel, newest first; the Cassandra range query
-- id > maxTimeuuid(t1) AND id < minTimeuuid(t2) excludes both milliseconds
CREATE TABLE timeuuid_msgs (channel int, message_id timeuuid, body text,
                            PRIMARY KEY (channel, message_id));
INSERT INTO timeuuid_msgs
SELECT 1,
       overlay(min_timeuuid(t)::text
               placing lpad(to_hex(n * 7919 % 65536), 4, '0') || '-0123456789ab'
               from 20)::timeuuid,
       'msg ' || n
FROM (SELECT n, timestamptz '2026-01-01 00:00:00+00' + n * interval '1 ms' AS t
      FROM generate_series(0, 9) n) s;
INSERT INTO timeuuid_msgs VALUES
    (1, min_timeuuid('2026-01-01 00:00:00.003+00'), 'min of ms 3'),
    (1, max_timeuuid('2026-01-01 00:00:00.003+00'), 'max of ms 3'),
    (1, min_timeuuid('2026-01-01 00:00:00.007+00'), 'min of ms 7'),
    (1, max_timeuuid('2026-01-01 00:00:00.007+00'), 'max of ms 7');
SELECT message_id, timeuuid_timestamp(message_id), body
FROM timeuuid_msgs WHERE channel = 1 ORDER BY message_id DESC;
SELECT body FROM timeuuid_msgs
WHERE channel = 1
  AND message_id > max_timeuuid('2026-01-01 00:00:00.003+00')
  AND message_id < min_timeuuid('2026-01-01 00:00:00.007+00')
ORDER BY message_id;
SELECT body FROM timeuuid_msgs
WHERE channel = 1
  AND message_id >= min_timeuuid('2026-01-01 00:00:00.003+00')
  AND message_id <= max_timeuuid('2026-01-01 00:00:00.003+00')
ORDER BY message_id;

-- btree index: range scans and ORDER BY DESC from the index
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT message_id, body FROM timeuuid_msgs
WHERE channel = 1
  AND message_id > max_timeuuid('2026-01-01 00:00:00.003+00')
ORDER BY message_id DESC LIMIT 3;
SELECT body FROM timeuuid_msgs
WHERE channel = 1
  AND message_id > max_timeuuid('2026-01-01 00:00:00.003+00')
ORDER BY message_id DESC LIMIT 3;
-- min() and max() in timeuuid order, from the index
EXPLAIN (COSTS OFF)
SELECT max(message_id) FROM timeuuid_msgs WHERE channel = 1;
SELECT min(message_id), max(message_id) FROM timeuuid_msgs;
SELECT min(id), max(id) FROM timeuuid_vals;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- generated values: ORDER BY id is timeuuid_timestamp order (a sort of
-- 5000 values with abbreviated keys, then a btree built on them)
CREATE TABLE timeuuid_gen AS
SELECT overlay(min_timeuuid(timestamptz '2026-01-01 00:00:00+00'
                            + (g * 7919 % 5000) * interval '1 ms'
                            + (g * 31 % 7) * interval '1 min')::text
               placing lpad(to_hex(g * 104729 % 65536), 4, '0')
                       || '-' || lpad(to_hex(g), 12, '0')
               from 20)::timeuuid AS id
FROM generate_series(1, 5000) g;
SELECT count(*), count(DISTINCT id) FROM timeuuid_gen;
SELECT count(*) AS out_of_order
FROM (SELECT timeuuid_timestamp(id) AS ts,
             lag(timeuuid_timestamp(id)) OVER (ORDER BY id) AS prev
      FROM timeuuid_gen) s
WHERE ts < prev;
-- and it is the order of the key encoding: timestamp, then the bytes
SELECT count(*) AS out_of_order
FROM (SELECT id, row_number() OVER (ORDER BY id) AS by_id,
             row_number() OVER (ORDER BY timeuuid_timestamp(id),
                                substr(id::text, 20)) AS by_parts
      FROM timeuuid_gen) s
WHERE by_id <> by_parts;
CREATE INDEX timeuuid_gen_id ON timeuuid_gen (id);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS out_of_order
FROM (SELECT id, lag(id) OVER () AS prev
      FROM (SELECT id FROM timeuuid_gen ORDER BY id DESC) d) s
WHERE id >= prev;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- now_timeuuid(): strictly increasing, in generation order, version 1
CREATE TABLE timeuuid_now AS
SELECT g, now_timeuuid() AS id FROM generate_series(1, 10000) g;
SELECT count(*), count(DISTINCT id) FROM timeuuid_now;
SELECT count(*) AS out_of_order
FROM (SELECT g, row_number() OVER (ORDER BY id) AS r FROM timeuuid_now) s
WHERE g <> r;
SELECT count(*) AS not_increasing
FROM (SELECT id, lag(id) OVER (ORDER BY g) AS prev FROM timeuuid_now) s
WHERE id <= prev;
-- version 1, RFC 4122 variant, multicast node, one clock sequence and node
-- per backend
SELECT count(DISTINCT substr(id::text, 15, 1)) AS versions,
       bool_and(substr(id::text, 15, 1) = '1') AS version_1,
       bool_and(substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS variant,
       bool_and((('x' || substr(id::text, 25, 2))::bit(8)::int & 1) = 1)
         AS multicast,
       count(DISTINCT substr(id::text, 20)) AS clock_and_node
FROM timeuuid_now;
-- close to the clock
SELECT abs(extract(epoch FROM timeuuid_timestamp(now_timeuuid())
                              - clock_timestamp())) < 60 AS near_now;
SELECT timeuuid_timestamp(min(id)) >= statement_timestamp() - interval '1 hour'
       AND timeuuid_timestamp(max(id)) <= clock_timestamp() + interval '1 hour'
       AS plausible
FROM timeuuid_now;
-- the backend keeps its clock sequence and node bytes
SELECT substr(now_timeuuid()::text, 20) = substr(id::text, 20) AS same_bytes
FROM timeuuid_now WHERE g = 1;

-- hash: hash aggregate and a hash index
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT id, count(*) FROM timeuuid_vals GROUP BY id;
SELECT count(*) AS groups, sum(n) AS rows
FROM (SELECT id, count(*) AS n FROM
        (SELECT id FROM timeuuid_vals UNION ALL SELECT id FROM timeuuid_vals) u
      GROUP BY id) g;
RESET enable_sort;
SELECT timeuuid_hash('50554d6e-29bb-11e5-b345-feff819cdc9f')
       = timeuuid_hash('50554D6E-29BB-11E5-B345-FEFF819CDC9F') AS same_hash,
       timeuuid_hash_extended('50554d6e-29bb-11e5-b345-feff819cdc9f', 0)
       = timeuuid_hash_extended('50554d6e-29bb-11e5-b345-feff819cdc9f', 1) AS same_seeded;
CREATE INDEX timeuuid_now_hash ON timeuuid_now USING hash (id);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT g FROM timeuuid_now WHERE id = '50554d6e-29bb-11e5-b345-feff819cdc9f';
SELECT count(*) AS found
FROM timeuuid_now a
WHERE EXISTS (SELECT 1 FROM timeuuid_now b WHERE b.id = a.id AND b.g = a.g);
RESET enable_seqscan;
RESET enable_bitmapscan;

-- binary COPY: send and recv round trip; recv rejects other versions
-- (the file lives in the data directory of the test instance)
CREATE TABLE timeuuid_copy (id timeuuid);
CREATE TABLE timeuuid_copy_uuid (id uuid);
INSERT INTO timeuuid_copy_uuid VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
CREATE FUNCTION pg_temp.copy_through_file(q text, dest text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    f text := current_setting('data_directory') || '/widecol_timeuuid.bin';
BEGIN
    EXECUTE format('COPY (%s) TO %L (FORMAT binary)', q, f);
    EXECUTE format('COPY %I FROM %L (FORMAT binary)', dest, f);
END
$$;
SELECT pg_temp.copy_through_file('SELECT id FROM timeuuid_now', 'timeuuid_copy');
SELECT count(*) AS copied,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM timeuuid_now n
                                      WHERE n.id = c.id)) AS equal
FROM timeuuid_copy c;
\set VERBOSITY terse
SELECT pg_temp.copy_through_file('SELECT id FROM timeuuid_copy_uuid',
                                 'timeuuid_copy');
\set VERBOSITY default

-- casts to and from uuid
SELECT '50554d6e-29bb-11e5-b345-feff819cdc9f'::timeuuid::uuid;
SELECT pg_typeof('50554d6e-29bb-11e5-b345-feff819cdc9f'::uuid::timeuuid);
SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid::timeuuid;
SELECT count(*) AS round_trip FROM timeuuid_now WHERE id::uuid::timeuuid = id;
-- assignment casts into columns of the other type
CREATE TABLE timeuuid_cast (u uuid, t timeuuid);
INSERT INTO timeuuid_cast (u, t)
VALUES ('50554d6e-29bb-11e5-b345-feff819cdc9f'::timeuuid,
        '50554d6e-29bb-11e5-b345-feff819cdc9f'::uuid);
INSERT INTO timeuuid_cast (t)
VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid);
SELECT * FROM timeuuid_cast;
-- no implicit comparison of timeuuid with uuid
SELECT '50554d6e-29bb-11e5-b345-feff819cdc9f'::timeuuid
     = '50554d6e-29bb-11e5-b345-feff819cdc9f'::uuid;

DROP TABLE timeuuid_vals, timeuuid_msgs, timeuuid_gen, timeuuid_now,
           timeuuid_cast, timeuuid_copy, timeuuid_copy_uuid;
