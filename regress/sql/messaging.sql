--
-- messaging: the messaging seed suite on foreign tables:
-- the statements of seeds/messaging.sql, shared with tam_messaging.
--
\set ks messaging_t
\set seed messaging
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
