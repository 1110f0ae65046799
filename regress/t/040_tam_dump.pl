#
# 040_tam_dump.pl - tables of the widecol access method (CREATE TABLE ...
# USING widecol) round-trip through pg_dump: a custom-format dump restored
# with pg_restore into a fresh instance, and a plain dump piped into psql in
# a fresh database, give back the tables with their widecol options
# (pg_class.reloptions, dumped as WITH (...)), their keyspaces and their
# rows; the restored rows survive an immediate stop of the instance.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolNode;

my $running_query = 'SELECT running FROM widecol.node_status()';

# What must come back: the options of every widecol table, and the rows.
my $options_query = q{
	SELECT c.relname, array_to_string(c.reloptions, ' | ')
	  FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	 WHERE a.amname = 'widecol' ORDER BY 1};
my $rows_query = q{
	(SELECT 'r', device_id, "timestamp", temperature, note FROM sensor_readings
	  WHERE device_id IN ('d1', 'd2', 'd3') ORDER BY 2, 3)
	UNION ALL
	(SELECT 'k', k::text, NULL, v, NULL FROM kv WHERE k IN (1, 2, 3) ORDER BY 2)};

my $a = widecol_node('a');
$a->safe_psql(
	'postgres', q{
	CREATE TABLE sensor_readings (
		device_id text, "timestamp" timestamptz, temperature numeric, note text
	) USING widecol WITH (
		keyspace = 'ks', primary_key = '(device_id, "timestamp")',
		clustering_order = '"timestamp" DESC', gc_grace_seconds = 3600,
		compaction = $${'class': 'LeveledCompactionStrategy'}$$);
	INSERT INTO sensor_readings
	SELECT 'd' || d, timestamptz '2024-03-10 00:00:00+00' + h * interval '1 hour',
	       round(20 + d + h * 0.25, 2), CASE WHEN h % 3 = 0 THEN NULL ELSE 'n' || h END
	  FROM generate_series(1, 3) d, generate_series(0, 49) h;
	CREATE TABLE kv (k int PRIMARY KEY, v numeric) USING widecol;
	INSERT INTO kv VALUES (1, 1.5), (2, NULL), (3, 3.25);
});
my $options = $a->safe_psql('postgres', $options_query);
my $rows = $a->safe_psql('postgres', $rows_query);
like($options, qr/sensor_readings\|keyspace=ks \| primary_key=\(device_id, "timestamp"\)/,
	'options kept in reloptions');
is(scalar(() = $rows =~ /\n/g) + 1, 153, '150 readings and 3 keys');

# custom format into a fresh instance
my $dump = $a->basedir . '/tam.dump';
$a->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $a->connstr('postgres') ],
	'pg_dump -Fc');
my $b = widecol_node('b');
$b->safe_psql('postgres', 'CREATE DATABASE restored');
$b->command_ok([ 'pg_restore', '-d', $b->connstr('restored'), $dump ], 'pg_restore');
is($b->safe_psql('restored', $options_query), $options, 'pg_restore: same options');
is($b->safe_psql('restored', $rows_query), $rows, 'pg_restore: same rows');
like($b->safe_psql('restored', 'SELECT amname FROM pg_am a JOIN pg_class c ON c.relam = a.oid '
	  . q{WHERE c.relname = 'kv'}), qr/^widecol$/, 'pg_restore: access method widecol');

# plain format piped into psql, a fresh database of the same instance
my $plain = $a->basedir . '/tam.sql';
$a->command_ok([ 'pg_dump', '-f', $plain, '-d', $a->connstr('postgres') ], 'pg_dump plain');
$a->safe_psql('postgres', 'CREATE DATABASE piped');
$a->command_ok([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-f', $plain, '-d', $a->connstr('piped') ],
	'pg_dump | psql');
is($a->safe_psql('piped', $options_query), $options, 'psql: same options');
is($a->safe_psql('piped', $rows_query), $rows, 'psql: same rows');

# the restored rows survive an immediate stop
$b->stop('immediate');
$b->start;
ok($b->poll_query_until('restored', $running_query), 'node running after immediate stop');
is($b->safe_psql('restored', $rows_query), $rows, 'same rows after immediate stop');

$a->stop;
$b->stop;
done_testing();
