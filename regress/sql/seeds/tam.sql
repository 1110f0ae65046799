--
-- The USING widecol face of a seed suite: the DDL variables that the
-- shared statements of seeds/<seed>.sql use, as seeds/fdw.sql sets them
-- for foreign tables, then those statements.  The caller sets ks and seed.
--
\set tbl TABLE
\set with 'USING widecol WITH'
\set ksopt 'keyspace = ' :'ks' ','
\set eq =
\set tam true
\set seed_file :seed '.sql'
\ir :seed_file
