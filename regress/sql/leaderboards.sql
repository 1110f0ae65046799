--
-- leaderboards: the leaderboards seed suite on foreign tables:
-- the statements of seeds/leaderboards.sql, shared with tam_leaderboards.
--
\set ks gaming_t
\set seed leaderboards
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
