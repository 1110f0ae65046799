--
-- orders: the orders seed suite on foreign tables:
-- the statements of seeds/orders.sql, shared with tam_orders.
--
\set ks ecommerce_t
\set seed orders
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/fdw.sql
