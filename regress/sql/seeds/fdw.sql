--
-- The foreign-table face of a seed suite: the DDL variables that the
-- shared statements of seeds/<seed>.sql use (CREATE :tbl t (...) :with
-- (:ksopt primary_key :eq '...')), then those statements.  The caller sets
-- ks (the keyspace: server and schema) and seed.
--
\set tbl 'FOREIGN TABLE'
\set with 'SERVER ' :ks ' OPTIONS'
\set ksopt ''
\set eq ''
\set tam false
\set seed_file :seed '.sql'
\ir :seed_file
