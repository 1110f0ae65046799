--
-- scrub: widecol.scrub() on a healthy table flushes it, verifies its
-- SSTables and changes nothing; only the table's owner (or a superuser) may
-- run it; other relations are refused.  Damaged files are covered by the
-- TAP test 004_damaged_files and engine/tests/recovery_test.c.  Can run
-- twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('scrub_ks');
DROP ROLE IF EXISTS widecol_scrub_other;
RESET client_min_messages;
\pset tuples_only on
\pset format unaligned

CREATE SERVER scrub_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE scrub_t (k int, c int, v text) SERVER scrub_ks
  OPTIONS (primary_key '((k), c)');
INSERT INTO scrub_t SELECT k, c, 'v' || c FROM generate_series(1, 3) k, generate_series(1, 10) c;

-- the memtable is flushed first: one healthy SSTable, nothing damaged
SELECT * FROM widecol.scrub('scrub_t');
SELECT count(*) FROM scrub_t;
-- again: still one SSTable, same rows
SELECT * FROM widecol.scrub('scrub_t');

-- only the owner or a superuser
CREATE ROLE widecol_scrub_other;
GRANT USAGE ON SCHEMA widecol TO widecol_scrub_other;
GRANT SELECT ON scrub_t TO widecol_scrub_other;
SET ROLE widecol_scrub_other;
SELECT widecol_try($$SELECT * FROM widecol.scrub('scrub_t')$$);
RESET ROLE;
REVOKE ALL ON scrub_t FROM widecol_scrub_other;
REVOKE USAGE ON SCHEMA widecol FROM widecol_scrub_other;
DROP ROLE widecol_scrub_other;

-- not a widecol table
SELECT widecol_try($$SELECT * FROM widecol.scrub('pg_class')$$);
\pset tuples_only off
\pset format aligned
