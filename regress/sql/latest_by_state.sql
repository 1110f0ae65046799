--
-- latest_by_state: the latest_by_state seed suite on foreign tables:
-- the statements of seeds/latest_by_state.sql, shared with tam_latest_by_state.
--
\set ks latest_state_t
\set seed latest_by_state
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
