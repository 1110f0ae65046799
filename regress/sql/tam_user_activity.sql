--
-- tam_user_activity: the user_activity seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/user_activity.sql, shared with user_activity.
--
\set ks analytics_tam
\set seed user_activity
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
