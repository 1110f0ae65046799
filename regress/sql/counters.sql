--
-- counters: the counters seed suite on foreign tables:
-- the statements of seeds/counters.sql, shared with tam_counters.
--
\set ks counters_t
\set seed counters
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
