#
# 053_partitioner.pl - widecol.partitioner = 'murmur3': Cassandra's tokens
# and order.
#
# widecol.token() returns what Cassandra's token() returns for int, bigint,
# text, uuid and composite keys; a whole-table read comes back in
# Cassandra's token order (seed 002: "latest event per device" lists
# 3333..., 2222..., 1111..., as Cassandra printed it); keys of every key type
# read back as written (their Cassandra serialization decodes); an empty
# text key is refused.  The data directory keeps its partitioner: a restart
# with xxhash is refused with a hint, the data is back with murmur3.  Nodes
# of different partitioners do not form a cluster.
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

my $running_query = 'SELECT running FROM widecol.node_status()';
my $short = PostgreSQL::Test::Utils::tempdir_short();
my $dir = "$short/m3";

my $node = widecol_node('murmur3',
	conf => "widecol.data_directory = '$dir'\nwidecol.partitioner = 'murmur3'\n");
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE ti (k int, v text) SERVER ks OPTIONS (primary_key '((k))');
	CREATE FOREIGN TABLE tb (k bigint, v text) SERVER ks OPTIONS (primary_key '((k))');
	CREATE FOREIGN TABLE tt (k text, v text) SERVER ks OPTIONS (primary_key '((k))');
	CREATE FOREIGN TABLE tc (a text, b int, v text) SERVER ks OPTIONS (primary_key '((a, b))');
	CREATE FOREIGN TABLE events_by_device (device_id uuid, "timestamp" timestamp,
		state text, value text)
		SERVER ks OPTIONS (primary_key '((device_id), "timestamp")',
		                   clustering_order '"timestamp" DESC');
});

# tokens Cassandra's token() returns for these keys
is( $node->safe_psql(
		'postgres', q{
	SELECT widecol.token('ti', 1) || ' ' || widecol.token('ti', 2) || ' ' ||
	       widecol.token('ti', 3) || ' ' || widecol.token('ti', 128) || ' ' ||
	       widecol.token('ti', -1)}),
	'-4069959284402364209 -3248873570005575792 9010454139840013625 -9081975895656599623 7297452126230313552',
	'int keys: Cassandra tokens (128 and -1 pin the sign-extended tail)');
is($node->safe_psql('postgres', q{SELECT widecol.token('tb', 1)}),
	'6292367497774912474', 'bigint key: Cassandra token');
is( $node->safe_psql(
		'postgres', q{SELECT widecol.token('tt', 'a') || ' ' || widecol.token('tt', 'hello')}),
	'-8839064797231613815 -3758069500696749310',
	'text keys: Cassandra tokens');
is($node->safe_psql('postgres', q{SELECT widecol.token('tc', 'hello', 42)}),
	'7666157718303755816', 'composite key (text, int): Cassandra token');
is( $node->safe_psql(
		'postgres',
		q{SELECT widecol.token('events_by_device', '550e8400-e29b-41d4-a716-446655440000')}),
	'4277286421682315655',
	'uuid key: Cassandra token');

# seed 002: the latest event of every device, in Cassandra's order
$node->safe_psql(
	'postgres', q{
	INSERT INTO events_by_device VALUES
	  ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'on', 'event 1-1'),
	  ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'off', 'event 1-2'),
	  ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'on', 'event 1-3'),
	  ('22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'off', 'event 2-1'),
	  ('33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'off', 'event 3-1');
	INSERT INTO ti SELECT k, 'v' || k FROM generate_series(1, 5) k;
});
is( $node->safe_psql(
		'postgres', q{
	SET widecol.per_partition_limit = 1;
	SELECT device_id, "timestamp", value FROM events_by_device}),
	"33333333-aaaa-bbbb-cccc-12345678abcd|2021-03-03 01:11:11|event 3-1\n"
	  . "22222222-aaaa-bbbb-cccc-12345678abcd|2021-02-02 01:11:11|event 2-1\n"
	  . "11111111-aaaa-bbbb-cccc-12345678abcd|2021-01-01 03:33:33|event 1-3",
	'seed 002: PER PARTITION LIMIT 1 over the table in the seed\'s order');
is($node->safe_psql('postgres', q{SELECT string_agg(k::text, ',') FROM ti}),
	'5,1,2,4,3', 'int keys 1..5 come back in Cassandra\'s token order');
is( $node->safe_psql(
		'postgres', q{
	SELECT bool_and(t1 < t2) FROM (
	  SELECT widecol.token('ti', k) t1, lead(widecol.token('ti', k)) OVER () t2 FROM ti) s
	 WHERE t2 IS NOT NULL}),
	't', 'the order of a whole-table read is token() order');

# every key type reads back as written
$node->safe_psql(
	'postgres', q{
	CREATE TYPE addr AS (city text, zip int);
	CREATE FOREIGN TABLE kinds (
		b boolean, s smallint, i int, g bigint, r real, d double precision, n numeric,
		t text, y bytea, u uuid, dt date, tm time, ts timestamp, tz timestamptz, ip inet,
		a addr, l int[] OPTIONS (cql_type 'frozen<list<int>>'),
		m jsonb OPTIONS (cql_type 'frozen<map<text, int>>'), v text)
	  SERVER ks OPTIONS (primary_key '((b, s, i, g, r, d, n, t, y, u, dt, tm, ts, tz, ip, a, l, m))');
	SET TimeZone = 'UTC';
	INSERT INTO kinds VALUES
	  (true, -2, -300000, 9000000000, -1.5, 2.25, -12345.678900, 'naïve', '\x0080ff',
	   '12345678-1234-1234-1234-123456789abc', '1969-12-31', '23:59:59.999999',
	   '2021-01-01 01:11:11.123456', '1999-12-31 23:59:59.5+00', '10.1.0.0/16',
	   ROW('Zürich', 8000), ARRAY[3, -1, 2], '{"b": -2, "a": 1}', 'first'),
	  (false, 0, 0, 0, -0.0, 'NaN', 0, '', '', '00000000-0000-0000-0000-000000000000',
	   'infinity', '00:00', '-infinity', '2021-01-01 00:00:00+00', '::1',
	   ROW(NULL, NULL), '{}', '{}', 'second');
});
is( $node->safe_psql(
		'postgres', q{
	SET TimeZone = 'UTC';
	SELECT b, s, i, g, r, d, n, t, y, u, dt, tm, ts, tz, ip, a, l, m, v FROM kinds ORDER BY v}),
	"t|-2|-300000|9000000000|-1.5|2.25|-12345.6789|naïve|\\x0080ff|12345678-1234-1234-1234-123456789abc|1969-12-31|23:59:59.999999|2021-01-01 01:11:11.123456|1999-12-31 23:59:59.5+00|10.1.0.0/16|(Zürich,8000)|{3,-1,2}|{\"a\": 1, \"b\": -2}|first\n"
	  . "f|0|0|0|0|NaN|0||\\x|00000000-0000-0000-0000-000000000000|infinity|00:00:00|-infinity|2021-01-01 00:00:00+00|::1|(,)|{}|{}|second",
	'keys of every key type read back as written');
is( $node->safe_psql(
		'postgres', q{
	SET TimeZone = 'UTC';
	SELECT v FROM kinds WHERE b AND s = -2::smallint AND i = -300000 AND g = 9000000000
	  AND r = -1.5::real AND d = 2.25::float8 AND n = -12345.6789 AND t = 'naïve'
	  AND y = '\x0080ff'
	  AND u = '12345678-1234-1234-1234-123456789abc' AND dt = '1969-12-31'
	  AND tm = '23:59:59.999999' AND ts = '2021-01-01 01:11:11.123456'
	  AND tz = '1999-12-31 23:59:59.5+00' AND ip = '10.1.0.0/16' AND a = ROW('Zürich', 8000)::addr
	  AND l = ARRAY[3, -1, 2] AND m = '{"a": 1, "b": -2}'}),
	'first', 'a partition read by its key of every type');
my ($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO tt VALUES ('', 'x')});
like($err, qr/a partition key may not be empty under the murmur3 partitioner/,
	'an empty single-column key is refused');

# the data directory keeps its partitioner
$node->stop('fast');
ok(-f "$dir/partitioner", 'the data directory records its partitioner');
$node->append_conf('postgresql.conf', "widecol.partitioner = 'xxhash'\n");
my $log_offset = -s $node->logfile;
$node->start;
ok( $node->wait_for_log(
		qr/created with the murmur3 partitioner.*\n?.*HINT:  Set widecol.partitioner back/,
		$log_offset),
	'a node set to xxhash refuses the murmur3 directory, with a hint');
is($node->safe_psql('postgres', $running_query), 'f', 'the node is not running');
$node->stop('fast');
$node->append_conf('postgresql.conf', "widecol.partitioner = 'murmur3'\n");
$node->start;
ok($node->poll_query_until('postgres', $running_query), 'back with murmur3');
is($node->safe_psql('postgres', q{SELECT string_agg(k::text, ',') FROM ti}),
	'5,1,2,4,3', 'the data is there, in the same order');
$node->stop('fast');

# a node of another partitioner never joins the cluster
my @mix = widecol_cluster_nodes('mix', 2);
$mix[0]->append_conf('postgresql.conf', "widecol.partitioner = 'murmur3'\n");
$mix[0]->start;
$log_offset = -s $mix[1]->logfile // 0;
$mix[1]->start;
ok( $mix[1]->wait_for_log(
		qr/cluster name "tap \(murmur3\)" differs from ours "tap"|cluster name "tap" differs from ours "tap \(murmur3\)"/,
		$log_offset),
	'an xxhash node and a murmur3 node refuse each other');
$_->stop('fast') for @mix;

done_testing();
