--
-- iot: the iot seed suite on foreign tables:
-- the statements of seeds/iot.sql, shared with tam_iot.
--
\set ks iot_platform_t
\set seed iot
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
