--
-- tam_leaderboards: the leaderboards seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/leaderboards.sql, shared with leaderboards.
--
\set ks gaming_tam
\set seed leaderboards
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
