--
-- privileges: who may use the widecol schema, the maintenance and
-- statistics functions, the views, and another role's engine table.  Two
-- roles: regress_wc_owner owns a table, regress_wc_other does not.  Can run
-- twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('pv_ks');
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_wc_owner') THEN
        DROP OWNED BY regress_wc_owner;
        DROP ROLE regress_wc_owner;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_wc_other') THEN
        DROP OWNED BY regress_wc_other;
        DROP ROLE regress_wc_other;
    END IF;
END
$$;
RESET client_min_messages;

CREATE ROLE regress_wc_owner;
CREATE ROLE regress_wc_other;

-- the schema is usable by every role: type, functions, operators
SET ROLE regress_wc_other;
SET search_path = public, widecol;
SELECT now_timeuuid() < now_timeuuid() AS ordered;
RESET search_path;
SELECT widecol.timeuuid_timestamp('a4a70900-24e1-11df-8924-001ff3591711'::widecol.timeuuid);
SELECT widecol.version() IS NOT NULL AS has_version;
-- ... but node_status() stays for monitoring roles
SELECT widecol.node_status();
RESET ROLE;

CREATE SERVER pv_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
GRANT USAGE ON FOREIGN SERVER pv_ks TO regress_wc_owner, regress_wc_other;
GRANT CREATE ON SCHEMA public TO regress_wc_owner, regress_wc_other;

SET ROLE regress_wc_owner;
CREATE FOREIGN TABLE pv_secret (k int, v text) SERVER pv_ks OPTIONS (primary_key '((k))');
INSERT INTO pv_secret VALUES (1, 'secret');
SELECT widecol.flush('pv_secret');
SELECT widecol.compact('pv_secret');
SELECT sstable_count FROM widecol.table_stats('pv_secret');
SELECT table_name, sstable_count FROM widecol.tables WHERE keyspace = 'pv_ks';
RESET ROLE;

-- another role: no maintenance, no statistics, nothing in the views
SET ROLE regress_wc_other;
SELECT * FROM widecol_try($$SELECT widecol.flush('pv_secret')$$);
SELECT * FROM widecol_try($$SELECT widecol.compact('pv_secret')$$);
SELECT * FROM widecol_try($$SELECT widecol.drop_table('pv_secret')$$);
SELECT * FROM widecol_try($$SELECT widecol.table_stats('pv_secret')$$);
SELECT * FROM widecol_try($$SELECT widecol.compaction_stats('pv_secret')$$);
SELECT * FROM widecol_try($$SELECT widecol.table_compactions('pv_secret')$$);
SELECT count(*) FROM widecol.tables WHERE keyspace = 'pv_ks';
SELECT count(*) FROM widecol.compactions WHERE table_name::text = 'pv_secret';
SELECT * FROM pv_secret;

-- ... and it may not reach the data through a foreign table of its own
-- over the same engine table
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE pv_steal (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret')$$);
RESET ROLE;

-- GRANT SELECT opens the statistics and the views, not maintenance
GRANT SELECT ON pv_secret TO regress_wc_other;
SET ROLE regress_wc_other;
SELECT * FROM pv_secret;
SELECT sstable_count FROM widecol.table_stats('pv_secret');
SELECT strategy FROM widecol.compaction_stats('pv_secret');
SELECT count(*) FROM widecol.table_compactions('pv_secret');
SELECT table_name, sstable_count FROM widecol.tables WHERE keyspace = 'pv_ks';
SELECT * FROM widecol_try($$SELECT widecol.flush('pv_secret')$$);
TRUNCATE pv_secret;
RESET ROLE;
REVOKE SELECT ON pv_secret FROM regress_wc_other;
SET ROLE regress_wc_other;
SELECT * FROM pv_secret;
RESET ROLE;

-- the owner (and a superuser) may attach a second foreign table
SET ROLE regress_wc_owner;
CREATE FOREIGN TABLE pv_alias (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret');
SELECT * FROM pv_alias;
RESET ROLE;
CREATE FOREIGN TABLE pv_admin (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret');
SELECT * FROM pv_admin;
-- an ALTER through an attached table keeps the creator's ownership record
ALTER FOREIGN TABLE pv_admin OPTIONS (ADD gc_grace_seconds '3600');
SET ROLE regress_wc_other;
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE pv_steal (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret')$$);
RESET ROLE;

-- a new owner of the original relation takes the ownership record with
-- it, however the change is spelled: ALTER TABLE, ALTER FOREIGN TABLE or
-- REASSIGN OWNED.  Each time, the previous owner can no longer attach.
ALTER TABLE pv_secret OWNER TO regress_wc_other;
SET ROLE regress_wc_owner;
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE pv_back (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret')$$);
RESET ROLE;
ALTER FOREIGN TABLE pv_secret OWNER TO regress_wc_owner;
SET ROLE regress_wc_other;
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE pv_steal (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret')$$);
RESET ROLE;
ALTER FOREIGN TABLE pv_secret OWNER TO regress_wc_other;
REASSIGN OWNED BY regress_wc_other TO regress_wc_owner;
SET ROLE regress_wc_other;
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE pv_steal (k int, v text) SERVER pv_ks
  OPTIONS (primary_key '((k))', table_name 'pv_secret')$$);
RESET ROLE;
-- one REASSIGN OWNED that hands over both the original relation and an
-- attached table is refused: the record names the old owner until commit
SELECT * FROM widecol_try($$REASSIGN OWNED BY regress_wc_owner TO regress_wc_other$$);

-- the owner's maintenance still works; then clean up
SET ROLE regress_wc_owner;
SELECT widecol.drop_table('pv_secret');
SELECT count(*) FROM pv_secret;
RESET ROLE;
DROP FOREIGN TABLE pv_admin;
DROP OWNED BY regress_wc_owner, regress_wc_other;
DROP ROLE regress_wc_owner;
DROP ROLE regress_wc_other;
