#
# 048_collections.pl - concurrent element writes of CQL collections all land.
#
# Two sessions each append 150 elements to the same list (and set its
# first element by index, which reads the list but writes one element),
# add 150 members to the same set and put 150 keys into the same map, one
# UPDATE ... WHERE <whole primary key> at a time: the list ends with
# exactly 300 more elements, the set with 300 members and the map with 300
# keys.  A
# read-modify-write of the whole value loses elements here (the issue's 235
# of 300).  The same sessions append to a list and increment a counter of
# tables USING widecol (cql_types, widecol.counter), which are written
# without a read too: 300 more elements, 300 increments.  One session
# updates the street and the other the city of one UDT value (cql_type
# 'address', one cell per field) 150 times each: both end at their last
# value (a read-modify-write of the whole value puts older streets or
# cities back).  And deterministically: a transaction updates the city
# with a later write time, another session updates the zip code before it
# commits; both fields are kept (a read-modify-write would write the zip
# code it read back over the newer one).  The values survive a restart
# (commit-log replay).
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolNode;

my $node = widecol_node('collections');
$node->safe_psql(
	'postgres', q{
	CREATE SEQUENCE member_seq;
	CREATE SEQUENCE street_seq;
	CREATE SEQUENCE city_seq;
	CREATE TYPE address AS (street text, city text, zip_code text);
	CREATE FOREIGN TABLE profiles (user_id int,
	    home address OPTIONS (cql_type 'address')) SERVER ks
	  OPTIONS (primary_key 'user_id');
	INSERT INTO profiles VALUES (1, ('s0', 'c0', '12345')), (2, ('s0', 'c0', 'z0'));
	CREATE FOREIGN TABLE orders (order_id int,
	    items text[] OPTIONS (cql_type 'list<text>'),
	    tags bigint[] OPTIONS (cql_type 'set<bigint>'),
	    stock jsonb OPTIONS (cql_type 'map<text, int>')) SERVER ks
	  OPTIONS (primary_key 'order_id');
	INSERT INTO orders VALUES (1, ARRAY['first'], NULL, NULL);
	CREATE TABLE carts (cart_id int PRIMARY KEY, items text[]) USING widecol
	  WITH (keyspace = 'ks', cql_types = 'items list<text>');
	INSERT INTO carts VALUES (1, ARRAY['first']);
	CREATE TABLE hits (page text PRIMARY KEY, n widecol.counter) USING widecol
	  WITH (keyspace = 'ks');});

$node->pgbench(
	'--no-vacuum --client=2 --jobs=2 --transactions=150 --max-tries=1',
	0,
	[qr{number of transactions actually processed: 300/300}],
	[qr{^$}],
	'2 sessions x 150 element writes: every UPDATE succeeds',
	{
		'048_append' => q{
UPDATE orders SET items = items || ARRAY['x' || :client_id] WHERE order_id = 1;
UPDATE orders SET items[1] = 'first' WHERE order_id = 1;
UPDATE orders SET tags = tags || nextval('member_seq') WHERE order_id = 1;
UPDATE orders SET stock = stock || jsonb_build_object('k' || nextval('member_seq'), 1)
 WHERE order_id = 1;
UPDATE carts SET items = items || ARRAY['x' || :client_id] WHERE cart_id = 1;
UPDATE hits SET n = n + 1 WHERE page = '/home';
\\if :client_id = 0
UPDATE profiles SET home.street = 's' || nextval('street_seq') WHERE user_id = 1;
\\else
UPDATE profiles SET home.city = 'c' || nextval('city_seq') WHERE user_id = 1;
\\endif
}
	});
my $q = q{SELECT cardinality(items) || ' ' || cardinality(tags) || ' '
	|| (SELECT count(*) FROM jsonb_object_keys(stock))
	|| ' ' || (SELECT count(*) FROM unnest(items) i WHERE i = 'x0')
	|| ' ' || (SELECT count(*) FROM unnest(items) i WHERE i = 'x1')
	|| ' ' || items[1] FROM orders WHERE order_id = 1};
is($node->safe_psql('postgres', $q), '301 300 300 150 150 first',
	'150 + 150 concurrent appends, adds and puts: 300 of each, none lost');
my $tq = q{SELECT cardinality(items) || ' '
	|| coalesce((SELECT n FROM hits WHERE page = '/home'), 0) FROM carts WHERE cart_id = 1};
is($node->safe_psql('postgres', $tq), '301 300',
	'tables USING widecol: 150 + 150 concurrent appends and increments, none lost');
my $uq = q{SELECT home FROM profiles WHERE user_id = 1};
is($node->safe_psql('postgres', $uq), '(s150,c150,12345)',
	'UDT fields: 150 + 150 concurrent updates of two fields, both at their last value');

my $sa = $node->background_psql('postgres');
$sa->query_safe(
	q{BEGIN; SET LOCAL widecol.write_timestamp = 4102444800000000;
	UPDATE profiles SET home.city = 'cA' WHERE user_id = 2;});
$node->safe_psql('postgres', q{UPDATE profiles SET home.zip_code = 'zB' WHERE user_id = 2});
$sa->query_safe('COMMIT');
$sa->quit;
is($node->safe_psql('postgres', q{SELECT home FROM profiles WHERE user_id = 2}),
	'(s0,cA,zB)', 'UDT fields: a field written while another session\'s update is pending is kept');

# the commit log is replayed at restart: nothing lost, nothing doubled
$node->restart;
ok($node->poll_query_until('postgres', $q, '301 300 300 150 150 first'),
	'the same collections after a restart');
is($node->safe_psql('postgres', $tq), '301 300', 'the same list and counter after a restart');
is($node->safe_psql('postgres', $uq), '(s150,c150,12345)', 'the same UDT value after a restart');

$node->stop('fast');
done_testing();
