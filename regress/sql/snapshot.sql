--
-- snapshot: widecol.snapshot() flushes and hard-links every table of the
-- node, widecol.snapshots lists it, a tag in use or a bad tag is refused
-- with a hint, widecol.clear_snapshot() removes it; widecol.repair() on a
-- node without a cluster has no other replica to compare (nothing to do)
-- and is refused to a role that does not own the table.  Restoring a
-- snapshot is covered by the TAP test 039_cluster_repair and
-- engine/tests/snapshot_test.c.  Can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('snap_ks');
DROP ROLE IF EXISTS widecol_snap_other;
SELECT count(*) >= 0 FROM widecol.clear_snapshot('regress_snap');
RESET client_min_messages;
\pset tuples_only on
\pset format unaligned

CREATE SERVER snap_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE snap_t (k int, v text) SERVER snap_ks OPTIONS (primary_key 'k');
INSERT INTO snap_t SELECT k, 'v' || k FROM generate_series(1, 20) k;

SELECT snapshot, tables >= 1, files >= 3, bytes > 0 FROM widecol.snapshot('regress_snap');
SELECT snapshot FROM widecol.snapshots WHERE snapshot = 'regress_snap';
-- the memtable was flushed: the table has an SSTable now
SELECT sstable_count >= 1 FROM widecol.table_stats('snap_t');
\set VERBOSITY default
SELECT * FROM widecol.snapshot('regress_snap');
SELECT * FROM widecol.snapshot('../etc');
SELECT * FROM widecol.snapshot('');
\set VERBOSITY terse
SELECT snapshot FROM widecol.clear_snapshot('regress_snap');
SELECT count(*) FROM widecol.snapshots WHERE snapshot = 'regress_snap';
SELECT count(*) FROM widecol.clear_snapshot('regress_snap');

-- repair without a cluster: no range to compare
SELECT ranges, ranges_mismatched, rows_streamed FROM widecol.repair('snap_t');
SELECT state, ranges FROM widecol.repairs ORDER BY id DESC LIMIT 1;
SELECT ranges FROM widecol.repair('snap_t', full => false);
CREATE ROLE widecol_snap_other;
GRANT USAGE ON SCHEMA widecol TO widecol_snap_other;
GRANT SELECT ON snap_t TO widecol_snap_other;
SET ROLE widecol_snap_other;
SELECT * FROM widecol.repair('snap_t');
SELECT * FROM widecol.snapshot('regress_other');
RESET ROLE;

SET client_min_messages = warning;
DROP FOREIGN TABLE snap_t;
DROP SERVER snap_ks;
REVOKE USAGE ON SCHEMA widecol FROM widecol_snap_other;
DROP ROLE widecol_snap_other;
