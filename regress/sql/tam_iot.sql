--
-- tam_iot: the iot seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/iot.sql, shared with iot.
--
\set ks iot_platform_tam
\set seed iot
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
