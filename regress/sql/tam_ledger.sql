--
-- tam_ledger: the ledger seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/ledger.sql, shared with ledger.
--
\set ks ledger_tam
\set seed ledger
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
