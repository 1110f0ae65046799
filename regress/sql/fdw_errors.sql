--
-- fdw_errors: every definition or statement the widecol FDW must refuse
-- gives a clear error with its SQLSTATE and a hint; valid definitions
-- taken from the seed workloads are accepted.  Can run twice in a row
-- (engine data outlives DROP FOREIGN TABLE: drop_table() first).
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('errs_ks', 'errs_nts');
DROP SERVER IF EXISTS errs_bad CASCADE;
DROP TABLE IF EXISTS errs_heap;
RESET client_min_messages;

\pset tuples_only on
\pset format unaligned

-- ======================================================== options
-- unknown server option, with the closest valid one
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replicaton $r${'class': 'SimpleStrategy', 'replication_factor': 1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol OPTIONS (host 'localhost')$$);
-- an option of a table given to the server
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol OPTIONS (primary_key 'a')$$);
-- options on the wrapper or a user mapping are refused
SELECT widecol_try($$ALTER FOREIGN DATA WRAPPER widecol OPTIONS (ADD replication '{}')$$);

CREATE SERVER errs_ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
SELECT widecol_try($$CREATE USER MAPPING FOR CURRENT_USER SERVER errs_ks OPTIONS (user 'x')$$);

-- unknown table options
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_keys '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', clustering_ordr 'b DESC')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', default_ttl '60')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', gc_grace '60')$$);
-- unknown column option
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, s int OPTIONS (statc 'true')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, w bigint OPTIONS (write_time 'b')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
-- bad option values
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, s int OPTIONS (static 'maybe')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', default_time_to_live '-1')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', gc_grace_seconds 'ten days')$$);
-- table ids above 2147483391 are the node's own tables
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', table_id '2147483393')$$);
-- a name whose hash falls there (2147483436) gets the id 256 lower: an
-- explicit id of 2147483180 then clashes with it
CREATE FOREIGN TABLE errs_reserved_9558893 (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)');
INSERT INTO errs_reserved_9558893 VALUES (1, 2);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', table_id '2147483180')$$);
SELECT * FROM errs_reserved_9558893;

-- ======================================================== keys
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, c)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '((a, x), b)')$$);
-- capitals must be quoted, as in CQL
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t ("Dev" int, b int) SERVER errs_ks
    OPTIONS (primary_key '(Dev, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, a)')$$);
-- malformed primary_key
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '((a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '()')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b) c')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '("a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '("", b)')$$);
-- clustering_order
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c int, v int) SERVER errs_ks
    OPTIONS (primary_key '(a, b, c)', clustering_order 'v DESC')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c int, v int) SERVER errs_ks
    OPTIONS (primary_key '(a, b, c)', clustering_order 'a DESC')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c int, v int) SERVER errs_ks
    OPTIONS (primary_key '(a, b, c)', clustering_order 'c DESC, b ASC')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c int, v int) SERVER errs_ks
    OPTIONS (primary_key '(a, b, c)', clustering_order 'b DOWN')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c int, v int) SERVER errs_ks
    OPTIONS (primary_key '(a, b, c)', clustering_order 'b DESC c DESC')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c int, v int) SERVER errs_ks
    OPTIONS (primary_key '(a, b, c)', clustering_order 'x DESC')$$);
-- key columns of types that have no byte-comparable key form
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a jsonb, v int) SERVER errs_ks
    OPTIONS (primary_key 'a')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b macaddr) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b interval) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int[], b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, c char(3)) SERVER errs_ks
    OPTIONS (primary_key '((a, c), b)')$$);
-- static columns need clustering columns
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, s int OPTIONS (static 'true')) SERVER errs_ks
    OPTIONS (primary_key 'a')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int OPTIONS (static 'true')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
-- writetime / ttl columns
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, v text, w int OPTIONS (writetime 'v')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, v text, l bigint OPTIONS (ttl 'v')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, v text, w bigint OPTIONS (writetime 'b')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, v text, l int OPTIONS (ttl 'a')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, v text, w bigint OPTIONS (writetime 'nope')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int, v text, w bigint OPTIONS (writetime 'v'),
    w2 bigint OPTIONS (writetime 'w')) SERVER errs_ks
    OPTIONS (primary_key '(a, b)')$$);
-- ALTER re-validates the whole definition
CREATE FOREIGN TABLE errs_alt (a int, b int, v text) SERVER errs_ks
    OPTIONS (primary_key '(a, b)');
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt OPTIONS (ADD clustering_order 'v DESC')$$);
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt ALTER COLUMN v OPTIONS (ADD static 'yes')$$);
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt ALTER COLUMN b TYPE jsonb$$);
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt OPTIONS (SET primary_key '(a, b')$$);
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt OPTIONS (DROP primary_key)$$);
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'errs_alt'::regclass;
-- once the engine table holds data, its key and its value types are fixed
-- (as in CQL): a new primary key or column type would misread the rows
INSERT INTO errs_alt VALUES (1, 2, 'some text');
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt OPTIONS (SET primary_key '(b, a)')$$);
SELECT widecol_try($$ALTER FOREIGN TABLE errs_alt ALTER COLUMN v TYPE bigint$$);
SELECT * FROM errs_alt WHERE a = 1;

-- ======================================================== CQL maps
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r$'class': 'SimpleStrategy', 'replication_factor': 1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 1$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${class: 'SimpleStrategy', 'replication_factor': 1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 1, 'Replication_Factor': 2}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class' 'SimpleStrategy'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': }$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy} $r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 1} x$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'replication_factor': 1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'LocalStrategy'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 0}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 'three'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'dc1': 'many'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'dc1': -1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 1}$r$, durable_writes 'sometimes')$$);
-- CREATE and ALTER SERVER check the whole map, as CREATE FOREIGN TABLE would
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 3, 'dc1': 2}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 1001}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'dc1': 0, 'dc2': '0'}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'dc 1': 3}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'replication_factor': 3}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'd1': 1, 'd2': 1, 'd3': 1,
             'd4': 1, 'd5': 1, 'd6': 1, 'd7': 1, 'd8': 1, 'd9': 1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${"class": "SimpleStrategy", 'replication_factor': 1}$r$)$$);
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'SimpleStrategy', 'replication_factor': 1.5}$r$)$$);
SELECT widecol_try($$ALTER SERVER errs_ks
    OPTIONS (SET replication $r${'class': 'SimpleStrategy', 'replication_factor': 1, 'x': 1}$r$)$$);
-- valid: a data centre may have no replicas; CQL strings may be $$-quoted
SELECT widecol_try($$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 0}$r$)$$);
SELECT widecol_try($q$CREATE SERVER errs_bad FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $r${'class': $$SimpleStrategy$$, 'replication_factor': '2'}$r$)$q$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', compaction $r${'compaction_window_size': 24}$r$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', compaction $r${'class': 'LeveledCompactionStrategy'$r$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE errs_t (a int, b int) SERVER errs_ks
    OPTIONS (primary_key '(a, b)', compaction $r${'class': 'LeveledCompactionStrategy', 'class': 'x'}$r$)$$);

-- ======================================================== valid definitions (seed workloads)
-- IoT: a quoted "timestamp" clustering column in DESC order, TWCS map
CREATE FOREIGN TABLE errs_sensor_readings (
    device_id text,
    "timestamp" timestamp,
    temperature numeric,
    humidity numeric,
    battery_level numeric,
    signal_strength int
) SERVER errs_ks OPTIONS (
    primary_key '(device_id, "timestamp")',
    clustering_order '"timestamp" DESC',
    compaction $${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', 'compaction_window_size': 24}$$);
-- alerts: a parenthesized single partition key, timeuuid DESC
CREATE FOREIGN TABLE errs_device_alerts (
    device_id text,
    alert_id widecol.timeuuid,
    "timestamp" timestamp,
    alert_type text,
    severity text,
    message text,
    acknowledged boolean
) SERVER errs_ks OPTIONS (primary_key '((device_id), alert_id)', clustering_order 'alert_id DESC');
-- composite partition key, two clustering columns in mixed order, a static
-- column, writetime/ttl columns, a TTL and table options stored as in CQL
CREATE FOREIGN TABLE errs_events (
    tenant text,
    day date,
    ts timestamp,
    seq int,
    owner text OPTIONS (static 'true'),
    v text,
    v_written bigint OPTIONS (writetime 'v'),
    v_ttl int OPTIONS (ttl 'v')
) SERVER errs_ks OPTIONS (
    primary_key '((tenant, day), ts, seq)',
    clustering_order '(ts DESC, seq ASC)',
    default_time_to_live '0',
    gc_grace_seconds '864000',
    comment 'events per tenant and day',
    caching $${'keys': 'ALL', 'rows_per_partition': 'NONE'}$$,
    bloom_filter_fp_chance '0.01');
CREATE FOREIGN TABLE errs_kv (k int, v text) SERVER errs_ks OPTIONS (primary_key 'k');
-- NetworkTopologyStrategy keyspace (one node: factor 1 in effect)
CREATE SERVER errs_nts FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'NetworkTopologyStrategy', 'dc1': 3}$$, durable_writes 'true');
CREATE FOREIGN TABLE errs_messages (
    conversation_id uuid,
    message_id widecol.timeuuid,
    sender_id uuid,
    content text
) SERVER errs_nts OPTIONS (primary_key '(conversation_id, message_id)', clustering_order 'message_id DESC');
INSERT INTO errs_sensor_readings VALUES ('d1', '2024-01-01 10:00', 21.5, 40, 99, -70),
    ('d1', '2024-01-01 11:00', 22.0, 41, 98, -71);
SELECT * FROM errs_sensor_readings WHERE device_id = 'd1';
INSERT INTO errs_messages VALUES ('00000000-0000-0000-0000-000000000001',
    widecol.min_timeuuid('2024-01-01 00:00+00'), '00000000-0000-0000-0000-000000000002', 'hello');
SELECT content FROM errs_messages WHERE conversation_id = '00000000-0000-0000-0000-000000000001';
INSERT INTO errs_events (tenant, day, ts, seq, owner, v) VALUES
    ('t1', '2024-01-01', '2024-01-01 10:00', 1, 'ann', 'a'),
    ('t1', '2024-01-01', '2024-01-01 10:00', 2, 'ann', 'b'),
    ('t1', '2024-01-01', '2024-01-01 11:00', 1, 'ann', 'c'),
    ('t1', '2024-01-02', '2024-01-02 09:00', 1, 'bob', 'd'),
    ('t2', '2024-01-01', '2024-01-01 12:00', 1, 'cy', 'e');
INSERT INTO errs_kv SELECT g, 'v' || g FROM generate_series(1, 5) g;

-- ======================================================== writes
-- NULL in a key column: INSERT
SELECT widecol_try($$INSERT INTO errs_events (tenant, day, ts, seq, v) VALUES (NULL, '2024-01-01', '2024-01-01', 1, 'x')$$);
SELECT widecol_try($$INSERT INTO errs_events (tenant, day, ts, seq, v) VALUES ('t1', NULL, '2024-01-01', 1, 'x')$$);
SELECT widecol_try($$INSERT INTO errs_events (tenant, day, ts, seq, v) VALUES ('t1', '2024-01-01', NULL, 1, 'x')$$);
SELECT widecol_try($$INSERT INTO errs_events (tenant, day, ts, v) VALUES ('t1', '2024-01-01', '2024-01-01', 'x')$$);
SELECT widecol_try($$INSERT INTO errs_kv VALUES (NULL, 'x')$$);
-- a multi-row INSERT with one bad row writes nothing
SELECT widecol_try($$INSERT INTO errs_kv VALUES (100, 'x'), (101, 'y'), (NULL, 'z')$$);
SELECT count(*) FROM errs_kv WHERE k IN (100, 101);
-- NULL in a key column: COPY (server-side, then from the client)
SELECT widecol_try($$COPY errs_kv FROM PROGRAM 'printf "200,a\n,b\n"' (FORMAT csv)$$);
SELECT widecol_try($$COPY errs_events (tenant, day, ts, seq, v) FROM PROGRAM 'printf "t9,2024-01-01,,1,x\n"' (FORMAT csv)$$);
SELECT count(*) FROM errs_kv WHERE k = 200;
\set VERBOSITY default
\set SHOW_CONTEXT never
COPY errs_events (tenant, day, ts, seq, v) FROM stdin (FORMAT csv);
t9,2024-01-01,2024-01-01 00:00,,x
\.
\set VERBOSITY sqlstate
COPY errs_kv FROM stdin;
\N	nothing
\.
\set VERBOSITY default
-- UPDATE of a key column
SELECT widecol_try($$UPDATE errs_events SET seq = 5 WHERE tenant = 't1' AND day = '2024-01-01'$$);
SELECT widecol_try($$UPDATE errs_events SET tenant = 'tx' WHERE tenant = 't1' AND day = '2024-01-01'$$);
SELECT widecol_try($$UPDATE errs_kv SET k = k + 10 WHERE k = 1$$);
-- RETURNING on UPDATE/DELETE; ON CONFLICT
SELECT widecol_try($$UPDATE errs_kv SET v = 'new' WHERE k = 1 RETURNING *$$);
SELECT widecol_try($$DELETE FROM errs_kv WHERE k = 1 RETURNING v$$);
SELECT widecol_try($$INSERT INTO errs_kv VALUES (1, 'x') ON CONFLICT DO NOTHING$$);
SELECT widecol_try($$INSERT INTO errs_kv VALUES (1, 'x') ON CONFLICT (k) DO UPDATE SET v = excluded.v$$);
SELECT v FROM errs_kv WHERE k = 1;
-- writing to a writetime/ttl column: out of range, or without its column
SELECT widecol_try($$INSERT INTO errs_events (tenant, day, ts, seq, v, v_written) VALUES ('t1', '2024-01-01', '2024-01-01', 9, 'x', -42)$$);
SELECT widecol_try($$UPDATE errs_events SET v_ttl = 10 WHERE tenant = 't1' AND day = '2024-01-01'$$);
SELECT widecol_try($$COPY errs_events (tenant, day, ts, seq, v, v_ttl) FROM PROGRAM 'printf "t9,2024-01-01,2024-01-01,1,x,700000000\n"' (FORMAT csv)$$);
SELECT widecol_try($$INSERT INTO errs_events (tenant, day, ts, seq, v_ttl) VALUES ('t1', '2024-01-01', '2024-01-01', 9, 60)$$);
-- ======================================================== whole-table scans
-- refused with the hint: a non-key column, part of a composite partition
-- key, a clustering column only
SELECT widecol_try($$SELECT * FROM errs_events WHERE v = 'a'$$);
SELECT widecol_try($$SELECT * FROM errs_events WHERE tenant = 't1'$$);
SELECT widecol_try($$SELECT * FROM errs_events WHERE day = '2024-01-01'$$);
SELECT widecol_try($$SELECT * FROM errs_events WHERE ts >= '2024-01-01 11:00'$$);
SELECT widecol_try($$SELECT * FROM errs_events WHERE seq = 2$$);
SELECT widecol_try($$SELECT * FROM errs_kv WHERE v = 'v1'$$);
SELECT widecol_try($$SELECT * FROM errs_kv WHERE k > 3$$);
SELECT widecol_try($$UPDATE errs_kv SET v = 'x' WHERE v = 'v1'$$);
SELECT widecol_try($$DELETE FROM errs_kv WHERE v = 'v1'$$);
SELECT widecol_try($$DELETE FROM errs_events WHERE seq = 1$$);
-- without a WHERE a full scan is fine; with the whole partition key too
SELECT count(*) FROM errs_events;
SELECT ts, seq, v FROM errs_events WHERE tenant = 't1' AND day = '2024-01-01' AND v <> 'b';
-- and allowed with widecol.allow_filtering
SET widecol.allow_filtering = on;
SELECT tenant, day, ts, seq, v FROM errs_events WHERE v = 'a';
SELECT tenant, day, ts, seq, v FROM errs_events WHERE tenant = 't1' ORDER BY day, ts, seq;
SELECT tenant, day, ts, seq, v FROM errs_events WHERE ts >= '2024-01-01 11:00' ORDER BY v;
SELECT tenant, v FROM errs_events WHERE seq = 2;
SELECT k, v FROM errs_kv WHERE k > 3 ORDER BY k;
RESET widecol.allow_filtering;

-- ======================================================== settings
-- one node cannot give TWO or THREE replicas: unavailable, with a hint
SET widecol.consistency = two;
SELECT widecol_try($$SELECT * FROM errs_kv WHERE k = 1$$);
-- (a write fails when its transaction commits: widecol_try would undo it before)
INSERT INTO errs_kv VALUES (1, 'two');
SET widecol.consistency = three;
SELECT widecol_try($$SELECT * FROM errs_kv WHERE k = 1$$);
DELETE FROM errs_kv WHERE k = 1;
-- QUORUM and ALL of one replica are that replica
SET widecol.consistency = quorum;
INSERT INTO errs_kv VALUES (1, 'quorum');
SELECT v FROM errs_kv WHERE k = 1;
SELECT content FROM errs_messages WHERE conversation_id = '00000000-0000-0000-0000-000000000001';
SET widecol.consistency = 'all';
INSERT INTO errs_kv VALUES (1, 'all');
SELECT v FROM errs_kv WHERE k = 1;
SET widecol.consistency = local_quorum;
SELECT v FROM errs_kv WHERE k = 1;
-- ANY is for writes only, as in CQL
SET widecol.consistency = 'any';
INSERT INTO errs_kv VALUES (1, 'any');
SELECT widecol_try($$SELECT v FROM errs_kv WHERE k = 1$$);
RESET widecol.consistency;
SELECT v FROM errs_kv WHERE k = 1;
SELECT widecol_try($$SET widecol.consistency = twelve$$);
-- write timestamps: microseconds since the epoch, or '' for now
SELECT widecol_try($$SET widecol.write_timestamp = 'yesterday'$$);
SELECT widecol_try($$SET widecol.write_timestamp = '12abc'$$);
SELECT widecol_try($$SET widecol.write_timestamp = '99999999999999999999999'$$);
SET widecol.write_timestamp = '1000';
INSERT INTO errs_events (tenant, day, ts, seq, v) VALUES ('t3', '2024-01-01', '2024-01-01', 1, 'old');
RESET widecol.write_timestamp;
SELECT v, v_written FROM errs_events WHERE tenant = 't3' AND day = '2024-01-01';

-- ======================================================== functions on other relations
CREATE TABLE errs_heap (k int PRIMARY KEY, v text);
SELECT widecol_try($$SELECT widecol.flush('errs_heap')$$);
SELECT widecol_try($$SELECT widecol.compact('errs_heap')$$);
SELECT widecol_try($$SELECT widecol.drop_table('errs_heap')$$);
SELECT widecol_try($$SELECT widecol.table_stats('errs_heap')$$);
SELECT widecol_try($$SELECT widecol.flush('pg_class')$$);
-- and they work on widecol tables
SELECT widecol.flush('errs_kv');
SELECT widecol.compact('errs_kv');
SELECT k, v FROM errs_kv ORDER BY k;

-- ======================================================== clean up
\pset tuples_only off
\pset format aligned
SELECT widecol.drop_table('errs_sensor_readings'), widecol.drop_table('errs_device_alerts'),
       widecol.drop_table('errs_events'), widecol.drop_table('errs_kv'),
       widecol.drop_table('errs_messages'), widecol.drop_table('errs_alt'),
       widecol.drop_table('errs_reserved_9558893');
SET client_min_messages = warning;
DROP SERVER errs_ks CASCADE;
DROP SERVER errs_nts CASCADE;
DROP SERVER IF EXISTS errs_bad CASCADE;
DROP TABLE errs_heap;
RESET client_min_messages;
