--
-- topology: on a node without a cluster, widecol.cleanup() drops nothing
-- (the node owns every token) and its rows stay readable; cleanup of every
-- table needs a superuser, of one table its owner; widecol.decommission()
-- and widecol.removenode() are refused with a hint (no cluster to leave).
-- The cluster cases are in the TAP test 044_cluster_decommission.  Can run
-- twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('topo_ks');
DROP ROLE IF EXISTS widecol_topo_other;
RESET client_min_messages;
\pset tuples_only on
\pset format unaligned

CREATE SERVER topo_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE topo_t (k int, v text) SERVER topo_ks OPTIONS (primary_key 'k');
INSERT INTO topo_t SELECT k, 'v' || k FROM generate_series(1, 50) k;

SELECT sstables_rewritten, partitions_dropped, rows_dropped, bytes_dropped
FROM widecol.cleanup('topo_t');
SELECT partitions_dropped FROM widecol.cleanup();
SELECT count(*) FROM topo_t;

\set VERBOSITY default
CREATE ROLE widecol_topo_other;
SET ROLE widecol_topo_other;
SELECT * FROM widecol.cleanup('topo_t');
SELECT * FROM widecol.cleanup();
SELECT * FROM widecol.decommission();
RESET ROLE;
SELECT * FROM widecol.decommission();
SELECT * FROM widecol.removenode('00000000-0000-0000-0000-000000000001');
\set VERBOSITY terse

DROP ROLE widecol_topo_other;
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('topo_ks');
