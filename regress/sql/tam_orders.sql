--
-- tam_orders: the orders seed suite on tables of the widecol access method (CREATE TABLE ... USING widecol):
-- the statements of seeds/orders.sql, shared with orders.
--
\set ks ecommerce_tam
\set seed orders
\getenv abs_srcdir PG_ABS_SRCDIR
\cd :abs_srcdir
\i sql/seeds/tam.sql
