--
-- compaction: compaction strategies, tombstone purging, TTL expiry and the
-- tombstone guardrails, as seen from SQL.  The background compaction threads
-- run on their own clock, so nothing here prints times, sizes or counts
-- that depend on when a compaction ran: the waits are bounded polling loops
-- and the checks print strategy names, booleans and counts fixed by the
-- data.  Can run twice in a row (engine data outlives DROP FOREIGN TABLE:
-- drop_table() first).  It changes widecol.concurrent_compactors with ALTER
-- SYSTEM for one check, so it must not run in parallel with other tests.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('cmp_ks');
DROP FUNCTION IF EXISTS cmp_settle(regclass, int);
DROP FUNCTION IF EXISTS cmp_sstables_read(text);
ALTER SYSTEM RESET widecol.concurrent_compactors;
SELECT pg_reload_conf();
RESET client_min_messages;

-- cmp_settle(t, timeout_s): wait until the table has no running compaction
-- and its strategy picks nothing more; true if it settled in time.
CREATE FUNCTION cmp_settle(t regclass, timeout_s int DEFAULT 30) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. timeout_s * 10 LOOP
        IF NOT (SELECT running FROM widecol.compaction_stats(t))
           AND NOT EXISTS (SELECT 1 FROM widecol.table_compactions(t)) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END
$$;

-- cmp_sstables_read(query): the "SSTables Read" figure of EXPLAIN ANALYZE.
CREATE FUNCTION cmp_sstables_read(q text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF line ~ 'SSTables Read:' THEN
            RETURN substring(line FROM 'SSTables Read: (\d+)')::int;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE SERVER cmp_ks FOREIGN DATA WRAPPER widecol;

-- ======================================================== strategy selection
-- no compaction option: SizeTieredCompactionStrategy
CREATE FOREIGN TABLE cmp_default (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)');
-- short, full and abbreviated class names, case-insensitive
CREATE FOREIGN TABLE cmp_stcs (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)',
             compaction $${'class': 'SizeTieredCompactionStrategy', 'min_threshold': 4, 'max_threshold': 32}$$);
CREATE FOREIGN TABLE cmp_lcs (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)',
             compaction $${'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy',
                           'sstable_size_in_mb': 0.004, 'fanout_size': 4}$$);
CREATE FOREIGN TABLE cmp_twcs (k int, ts int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, ts)', gc_grace_seconds '0',
             compaction $${'class': 'TimeWindowCompactionStrategy',
                           'compaction_window_unit': 'MINUTES', 'compaction_window_size': 1}$$);
CREATE FOREIGN TABLE cmp_abbrev (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $${'class': 'lcs'}$$);

SELECT 'cmp_default' AS t, strategy, enabled FROM widecol.compaction_stats('cmp_default')
UNION ALL SELECT 'cmp_stcs', strategy, enabled FROM widecol.compaction_stats('cmp_stcs')
UNION ALL SELECT 'cmp_lcs', strategy, enabled FROM widecol.compaction_stats('cmp_lcs')
UNION ALL SELECT 'cmp_twcs', strategy, enabled FROM widecol.compaction_stats('cmp_twcs')
UNION ALL SELECT 'cmp_abbrev', strategy, enabled FROM widecol.compaction_stats('cmp_abbrev');

SELECT table_name, compaction_strategy FROM widecol.tables
 WHERE keyspace = 'cmp_ks' ORDER BY table_name::text;

-- ======================================================== option errors
\pset tuples_only on
\pset format unaligned
-- unknown class
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'DateTieredCompactionStrategy'}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'org.apache.cassandra.db.compaction.LeveledStrategy'}$c$)$$);
-- unknown option, with the closest valid one
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'SizeTieredCompactionStrategy', 'min_treshold': 4}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'LeveledCompactionStrategy', 'fanout': 10}$c$)$$);
-- an option of another strategy
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'SizeTieredCompactionStrategy', 'sstable_size_in_mb': 160}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'LeveledCompactionStrategy', 'compaction_window_unit': 'DAYS'}$c$)$$);
-- bad values
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'SizeTieredCompactionStrategy', 'min_threshold': -4}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'SizeTieredCompactionStrategy', 'min_threshold': 8, 'max_threshold': 4}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'WEEKS'}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'TimeWindowCompactionStrategy', 'timestamp_resolution': 'MILLISECONDS'}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': 'large'}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'SizeTieredCompactionStrategy', 'min_sstable_size': '50MB'}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'class': 'SizeTieredCompactionStrategy', 'enabled': 'maybe'}$c$)$$);
-- missing class
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction $c${'min_threshold': 4}$c$)$$);
SELECT widecol_try($$CREATE FOREIGN TABLE cmp_bad (k int, v text) SERVER cmp_ks
    OPTIONS (primary_key 'k', compaction '{}')$$);
-- the same checks at ALTER; the table keeps its strategy
SELECT widecol_try($$ALTER FOREIGN TABLE cmp_lcs OPTIONS (SET compaction $c${'class': 'LeveledCompactionStrategy', 'fanout_size': 1}$c$)$$);
SELECT widecol_try($$ALTER FOREIGN TABLE cmp_default OPTIONS (ADD gc_grace_seconds '-1')$$);
SELECT widecol_try($$ALTER FOREIGN TABLE cmp_default OPTIONS (ADD default_time_to_live 'one day')$$);
SELECT strategy FROM widecol.compaction_stats('cmp_lcs');
\pset tuples_only off
\pset format aligned

-- ======================================================== options changed at runtime
CREATE FOREIGN TABLE cmp_alter (k int, v text, v_ttl integer OPTIONS (ttl 'v')) SERVER cmp_ks
    OPTIONS (primary_key 'k');
INSERT INTO cmp_alter (k, v) VALUES (1, 'no default ttl');
ALTER FOREIGN TABLE cmp_alter OPTIONS (ADD default_time_to_live '100');
INSERT INTO cmp_alter (k, v) VALUES (2, 'default ttl 100');
ALTER FOREIGN TABLE cmp_alter OPTIONS (SET default_time_to_live '5000');
INSERT INTO cmp_alter (k, v) VALUES (3, 'default ttl 5000');
SET widecol.ttl = 0;
INSERT INTO cmp_alter (k, v) VALUES (4, 'widecol.ttl 0 overrides');
RESET widecol.ttl;
ALTER FOREIGN TABLE cmp_alter OPTIONS (DROP default_time_to_live);
INSERT INTO cmp_alter (k, v) VALUES (5, 'default dropped');
SELECT k, v, v_ttl IS NULL AS no_ttl,
       v_ttl BETWEEN 90 AND 100 AS ttl_about_100,
       v_ttl BETWEEN 4990 AND 5000 AS ttl_about_5000
  FROM cmp_alter ORDER BY k;

ALTER FOREIGN TABLE cmp_alter OPTIONS (ADD compaction $${'class': 'LeveledCompactionStrategy'}$$);
SELECT strategy FROM widecol.compaction_stats('cmp_alter');
ALTER FOREIGN TABLE cmp_alter OPTIONS (SET compaction $${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS'}$$);
SELECT strategy FROM widecol.compaction_stats('cmp_alter');
ALTER FOREIGN TABLE cmp_alter OPTIONS (SET compaction $${'class': 'STCS', 'enabled': 'false'}$$);
SELECT strategy, enabled FROM widecol.compaction_stats('cmp_alter');
ALTER FOREIGN TABLE cmp_alter OPTIONS (DROP compaction);
SELECT strategy, enabled FROM widecol.compaction_stats('cmp_alter');
SELECT compaction_strategy FROM widecol.tables WHERE table_name = 'cmp_alter'::regclass;

-- ======================================================== STCS in the background
-- four flushes of similar size make one bucket of min_threshold (4) SSTables
DO $$
BEGIN
    FOR i IN 1 .. 4 LOOP
        INSERT INTO cmp_stcs SELECT k, i, 'v' || k || '.' || i FROM generate_series(1, 20) k;
        COMMIT;   -- the writes apply when the transaction commits
        PERFORM widecol.flush('cmp_stcs');
    END LOOP;
END
$$;
SELECT cmp_settle('cmp_stcs');
SELECT s.sstable_count, c.compactions_completed >= 1 AS compacted
  FROM widecol.table_stats('cmp_stcs') s, widecol.compaction_stats('cmp_stcs') c;
SELECT count(*), count(DISTINCT k), sum(c) FROM cmp_stcs;

-- ======================================================== enabled 'false'
CREATE FOREIGN TABLE cmp_off (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)', compaction $${'class': 'SizeTieredCompactionStrategy', 'enabled': false}$$);
DO $$
BEGIN
    FOR i IN 1 .. 6 LOOP
        INSERT INTO cmp_off SELECT k, i, 'v' FROM generate_series(1, 20) k;
        COMMIT;   -- the writes apply when the transaction commits
        PERFORM widecol.flush('cmp_off');
    END LOOP;
END
$$;
-- nothing is pending or running: the six SSTables stay
SELECT cmp_settle('cmp_off');
SELECT pg_sleep(1.5);   -- longer than the compaction threads' check interval
SELECT s.sstable_count, c.enabled, c.pending, c.running, c.compactions_completed
  FROM widecol.table_stats('cmp_off') s, widecol.compaction_stats('cmp_off') c;
SELECT count(*) FROM widecol.compactions WHERE table_name = 'cmp_off'::regclass;
-- a major compaction still runs
SELECT widecol.compact('cmp_off');
SELECT s.sstable_count, c.compactions_completed
  FROM widecol.table_stats('cmp_off') s, widecol.compaction_stats('cmp_off') c;
SELECT count(*), sum(c) FROM cmp_off;

-- ======================================================== widecol.compactions
-- With widecol.concurrent_compactors = 0 (applied on reload) no background
-- compaction runs, so the compaction a table is due for stays pending.
SELECT * FROM widecol.compactions WHERE false;
ALTER SYSTEM SET widecol.concurrent_compactors = 0;
SELECT pg_reload_conf();
SELECT pg_sleep(1);     -- the node applies the setting on SIGHUP
CREATE FOREIGN TABLE cmp_pending (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)', compaction $${'class': 'SizeTieredCompactionStrategy', 'enabled': false}$$);
DO $$
BEGIN
    FOR i IN 1 .. 4 LOOP
        INSERT INTO cmp_pending SELECT k, i, 'v' FROM generate_series(1, 20) k;
        COMMIT;   -- the writes apply when the transaction commits
        PERFORM widecol.flush('cmp_pending');
    END LOOP;
END
$$;
ALTER FOREIGN TABLE cmp_pending OPTIONS (SET compaction $${'class': 'SizeTieredCompactionStrategy'}$$);
SELECT pg_sleep(1.5);
SELECT table_name, running, strategy, kind, sstables, level, window_start,
       bytes_done = 0 AS not_started, bytes_total > 0 AS has_input, progress_pct
  FROM widecol.compactions WHERE table_name = 'cmp_pending'::regclass;
SELECT s.sstable_count, c.pending >= 1 AS pending, c.running
  FROM widecol.table_stats('cmp_pending') s, widecol.compaction_stats('cmp_pending') c;
-- back to one compactor: the pending compaction runs
ALTER SYSTEM RESET widecol.concurrent_compactors;
SELECT pg_reload_conf();
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT sstable_count FROM widecol.table_stats('cmp_pending')) = 1;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT cmp_settle('cmp_pending');
SELECT s.sstable_count, c.compactions_completed >= 1 AS compacted
  FROM widecol.table_stats('cmp_pending') s, widecol.compaction_stats('cmp_pending') c;
SELECT count(*) FROM widecol.compactions WHERE table_name = 'cmp_pending'::regclass;
SELECT count(*), sum(c) FROM cmp_pending;

-- ======================================================== LCS
-- tiny SSTables (4 KiB) and fanout 4, so a few flushes fill several levels
DO $$
BEGIN
    FOR i IN 1 .. 12 LOOP
        INSERT INTO cmp_lcs SELECT k, i, repeat('x', 40) || k || '.' || i FROM generate_series(1, 60) k;
        COMMIT;   -- the writes apply when the transaction commits
        PERFORM widecol.flush('cmp_lcs');
    END LOOP;
END
$$;
SELECT cmp_settle('cmp_lcs');
-- the per-level counts add up to the SSTable count; data left L0, which
-- holds fewer SSTables than the L0 trigger (4)
SELECT (SELECT sum(x) FROM unnest(c.level_sstables) x) = s.sstable_count AS levels_add_up,
       c.level_sstables[1] < 4 AS l0_below_trigger,
       array_length(c.level_sstables, 1) >= 2 AS has_upper_levels
  FROM widecol.table_stats('cmp_lcs') s, widecol.compaction_stats('cmp_lcs') c;
SELECT (SELECT sum(x) FROM unnest(level_sstables) x) = sstable_count AS levels_add_up,
       compaction_strategy
  FROM widecol.tables WHERE table_name = 'cmp_lcs'::regclass;
-- reads are right
SELECT count(*), count(DISTINCT k), count(DISTINCT c), min(c), max(c) FROM cmp_lcs;
SELECT c, v FROM cmp_lcs WHERE k = 17 ORDER BY c DESC LIMIT 3;
-- overwrite some rows, flush, settle: the newest values win
INSERT INTO cmp_lcs SELECT k, 12, 'new' FROM generate_series(1, 60, 2) k;
SELECT widecol.flush('cmp_lcs');
SELECT cmp_settle('cmp_lcs');
SELECT count(*) FILTER (WHERE c = 12 AND v = 'new') AS new_values,
       count(*) FILTER (WHERE c = 12) AS rows_c12 FROM cmp_lcs;
-- a point read touches at most one SSTable per level above L0, plus L0
CREATE TEMP TABLE cmp_lcs_reads AS
SELECT k, cmp_sstables_read(format('SELECT * FROM cmp_lcs WHERE k = %s', k)) AS touched
  FROM generate_series(1, 60, 7) k;
SELECT bool_and(r.touched <= c.level_sstables[1]
                + (SELECT count(*) FROM unnest(c.level_sstables[2:]) x WHERE x > 0)) AS bounded,
       bool_and(r.touched >= 1) AS read_sstables
  FROM cmp_lcs_reads r, widecol.compaction_stats('cmp_lcs') c;
DROP TABLE cmp_lcs_reads;
-- the reads were counted in the read-amplification histogram
SELECT (SELECT sum(x) FROM unnest(read_histogram) x) > 0 AS reads_counted,
       read_p99 >= read_p50 AS p99_ge_p50
  FROM widecol.compaction_stats('cmp_lcs');

-- ======================================================== purging tombstones
-- gc_grace_seconds 1: after two seconds a major compaction drops the deleted
-- data and the tombstones themselves
CREATE FOREIGN TABLE cmp_purge (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)', gc_grace_seconds '1');
INSERT INTO cmp_purge SELECT k, c, 'v' FROM generate_series(1, 10) k, generate_series(1, 5) c;
SELECT widecol.flush('cmp_purge');
DELETE FROM cmp_purge WHERE k IN (1, 2, 3);            -- partition tombstones
DELETE FROM cmp_purge WHERE k = 4 AND c = 1;           -- row tombstone
DELETE FROM cmp_purge WHERE k = 5 AND c >= 3;          -- range tombstone
SELECT widecol.flush('cmp_purge');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_purge');
SELECT pg_sleep(2);
SELECT widecol.compact('cmp_purge');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_purge');
SELECT tombstones_purged > 0 AS purged FROM widecol.compaction_stats('cmp_purge');
SELECT count(*) FROM cmp_purge;
SELECT k, count(*) FROM cmp_purge WHERE k IN (1, 2, 3, 4, 5) GROUP BY k ORDER BY k;
-- compacting again brings nothing back
SELECT widecol.compact('cmp_purge');
SELECT count(*) FROM cmp_purge;
SELECT k, count(*) FROM cmp_purge WHERE k IN (1, 2, 3, 4, 5) GROUP BY k ORDER BY k;

-- the default gc_grace_seconds (10 days): the tombstones are kept
CREATE FOREIGN TABLE cmp_keep (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)');
INSERT INTO cmp_keep SELECT k, c, 'v' FROM generate_series(1, 10) k, generate_series(1, 5) c;
SELECT widecol.flush('cmp_keep');
DELETE FROM cmp_keep WHERE k IN (1, 2, 3);
DELETE FROM cmp_keep WHERE k = 4 AND c = 1;
DELETE FROM cmp_keep WHERE k = 5 AND c >= 3;
SELECT widecol.compact('cmp_keep');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_keep');
SELECT tombstones_purged, droppable_tombstones FROM widecol.compaction_stats('cmp_keep');
SELECT count(*) FROM cmp_keep;
-- lowering gc_grace_seconds with ALTER takes effect at the next compaction
ALTER FOREIGN TABLE cmp_keep OPTIONS (ADD gc_grace_seconds '0');
SELECT pg_sleep(1.1);
SELECT widecol.compact('cmp_keep');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_keep');
SELECT tombstones_purged > 0 AS purged FROM widecol.compaction_stats('cmp_keep');
SELECT count(*) FROM cmp_keep;

-- purge safety: a tombstone compaction of the SSTable that holds only
-- tombstones must keep them while the older SSTable with the deleted data
-- is not part of the compaction.  min_threshold 32 keeps size-tiered
-- compaction from merging the two SSTables.
CREATE FOREIGN TABLE cmp_safe (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)', gc_grace_seconds '1',
             compaction $${'class': 'SizeTieredCompactionStrategy', 'min_threshold': 32,
                           'tombstone_threshold': 0.1, 'tombstone_compaction_interval': 1,
                           'unchecked_tombstone_compaction': true}$$);
INSERT INTO cmp_safe SELECT k, c, 'v' FROM generate_series(1, 10) k, generate_series(1, 5) c;
SELECT widecol.flush('cmp_safe');
DELETE FROM cmp_safe WHERE k IN (1, 2, 3);
DELETE FROM cmp_safe WHERE k = 4 AND c = 1;
DELETE FROM cmp_safe WHERE k = 5 AND c >= 3;
SELECT widecol.flush('cmp_safe');
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT compactions_completed FROM widecol.compaction_stats('cmp_safe')) >= 1;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
-- stop background compaction before looking
ALTER FOREIGN TABLE cmp_safe OPTIONS (SET compaction $${'class': 'SizeTieredCompactionStrategy', 'enabled': false}$$);
SELECT cmp_settle('cmp_safe');
SELECT compactions_completed >= 1 AS tombstone_compaction_ran, tombstones_purged
  FROM widecol.compaction_stats('cmp_safe');
SELECT s.sstable_count, s.tombstones FROM widecol.table_stats('cmp_safe') s;
SELECT count(*) FROM cmp_safe;
-- a major compaction sees both SSTables and purges
SELECT widecol.compact('cmp_safe');
SELECT tombstones_purged > 0 AS purged FROM widecol.compaction_stats('cmp_safe');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_safe');
SELECT count(*) FROM cmp_safe;
SELECT k, count(*) FROM cmp_safe WHERE k IN (1, 2, 3, 4, 5) GROUP BY k ORDER BY k;

-- ======================================================== TWCS and TTL
-- rows written with a TTL of one second into their own SSTable, older than
-- anything else in the table: once expired (gc_grace_seconds 0) the whole
-- SSTable is dropped without being read
SET widecol.ttl = 1;
INSERT INTO cmp_twcs SELECT k, ts, 'expiring' FROM generate_series(2, 4) k, generate_series(1, 5) ts;
RESET widecol.ttl;
SELECT widecol.flush('cmp_twcs');
INSERT INTO cmp_twcs SELECT 1, ts, 'kept' FROM generate_series(1, 5) ts;
SELECT widecol.flush('cmp_twcs');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_twcs');
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT sstables_expired + tombstones_purged FROM widecol.compaction_stats('cmp_twcs')) > 0;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT cmp_settle('cmp_twcs');
SELECT sstables_expired > 0 AS sstable_expired, tombstones_purged,
       array_length(window_sstables, 1) AS windows
  FROM widecol.compaction_stats('cmp_twcs');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_twcs');
SELECT k, v, count(*) FROM cmp_twcs GROUP BY k, v ORDER BY k;

-- expiring rows mixed with older live data in one table: after the TTL
-- the rows read as gone, and a compaction purges them
SET widecol.ttl = 1;
INSERT INTO cmp_twcs SELECT k, ts, 'expiring' FROM generate_series(5, 6) k, generate_series(1, 5) ts;
RESET widecol.ttl;
SELECT widecol.flush('cmp_twcs');
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT count(*) FROM cmp_twcs WHERE k IN (5, 6)) = 0;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT pg_sleep(1.1);   -- the expired cells' deletion time is now past gc_grace_seconds 0
SELECT widecol.compact('cmp_twcs');
-- purged by the compaction, or dropped whole before it if nothing older overlapped
SELECT tombstones_purged > 0 OR sstables_expired > 1 AS purged_or_expired
  FROM widecol.compaction_stats('cmp_twcs');
SELECT sstable_count, tombstones FROM widecol.table_stats('cmp_twcs');
SELECT k, v, count(*) FROM cmp_twcs GROUP BY k, v ORDER BY k;

-- ======================================================== tombstone guardrails
CREATE FOREIGN TABLE cmp_guard (k int, c int, v text) SERVER cmp_ks
    OPTIONS (primary_key '(k, c)');
INSERT INTO cmp_guard SELECT 1, c, 'v' FROM generate_series(1, 30) c;
DO $$
BEGIN
    FOR i IN 1 .. 20 LOOP
        DELETE FROM cmp_guard WHERE k = 1 AND c = i;
    END LOOP;
END
$$;
SELECT widecol.flush('cmp_guard');
SHOW widecol.tombstone_warn_threshold;
SHOW widecol.tombstone_failure_threshold;
-- below the defaults: silent
SELECT count(*) FROM cmp_guard WHERE k = 1;
SET widecol.tombstone_warn_threshold = 10;
SELECT count(*) FROM cmp_guard WHERE k = 1;
SET widecol.tombstone_failure_threshold = 10;
\pset tuples_only on
\pset format unaligned
SELECT widecol_try($$SELECT count(*) FROM cmp_guard WHERE k = 1$$);
\pset tuples_only off
\pset format aligned
-- 0 turns both off
SET widecol.tombstone_warn_threshold = 0;
SET widecol.tombstone_failure_threshold = 0;
SELECT count(*) FROM cmp_guard WHERE k = 1;
RESET widecol.tombstone_warn_threshold;
RESET widecol.tombstone_failure_threshold;
SHOW widecol.tombstone_warn_threshold;
SHOW widecol.tombstone_failure_threshold;
SELECT count(*) FROM cmp_guard WHERE k = 1;

-- ======================================================== ALTER is transactional
-- the node learns of an ALTER only when its transaction commits
CREATE FOREIGN TABLE cmp_tx (k int, v text) SERVER cmp_ks OPTIONS (primary_key 'k');
INSERT INTO cmp_tx VALUES (1, 'x');
BEGIN;
ALTER FOREIGN TABLE cmp_tx OPTIONS (ADD compaction $${'class': 'TimeWindowCompactionStrategy'}$$);
ROLLBACK;
SELECT strategy FROM widecol.compaction_stats('cmp_tx');
BEGIN;
ALTER FOREIGN TABLE cmp_tx OPTIONS (ADD compaction $${'class': 'LeveledCompactionStrategy'}$$);
SAVEPOINT s1;
ALTER FOREIGN TABLE cmp_tx OPTIONS (SET compaction $${'class': 'TimeWindowCompactionStrategy'}$$);
ROLLBACK TO s1;
COMMIT;
SELECT strategy FROM widecol.compaction_stats('cmp_tx');

-- ======================================================== clean up
SET client_min_messages = warning;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT ft.ftrelid FROM pg_foreign_table ft
               JOIN pg_foreign_server s ON s.oid = ft.ftserver
              WHERE s.srvname = 'cmp_ks'
    LOOP
        PERFORM widecol.drop_table(r.ftrelid);
    END LOOP;
END
$$;
DROP SERVER cmp_ks CASCADE;
DROP FUNCTION cmp_settle(regclass, int);
DROP FUNCTION cmp_sstables_read(text);
RESET client_min_messages;
