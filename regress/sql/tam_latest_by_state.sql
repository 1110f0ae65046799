--
-- tam_latest_by_state: the latest_by_state seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/latest_by_state.sql, shared with latest_by_state.
--
\set ks latest_state_tam
\set seed latest_by_state
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
