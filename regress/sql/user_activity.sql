--
-- user_activity: the user_activity seed suite on foreign tables:
-- the statements of seeds/user_activity.sql, shared with tam_user_activity.
--
\set ks analytics_t
\set seed user_activity
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
