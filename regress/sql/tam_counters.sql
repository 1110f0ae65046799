--
-- tam_counters: the counters seed suite on tables of the widecol access
-- method (CREATE TABLE ... USING widecol): the statements of
-- seeds/counters.sql, shared with counters, with the same results; the
-- increments are planned as a WidecolModify that writes without reading.
--
\set ks tam_counters_t
\set seed counters
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
