--
-- tam_messaging: the messaging seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/messaging.sql, shared with messaging.
--
\set ks messaging_tam
\set seed messaging
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
