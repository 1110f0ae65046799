--
-- ledger: the ledger seed suite on foreign tables:
-- the statements of seeds/ledger.sql, shared with tam_ledger.
--
\set ks ledger_t
\set seed ledger
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
