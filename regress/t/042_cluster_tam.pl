#
# 042_cluster_tam.pl - tables of the widecol access method in a cluster:
# three instances on 127.0.0.1; CREATE TABLE ... USING widecol WITH (...)
# on node 0 appears on nodes 1 and 2 (same table id, its options), the
# default keyspace widecol_default too; an INSERT on node 1 is read on
# node 2; ALTER TABLE SET, ADD / DROP / RENAME COLUMN propagate with each
# column's cells kept in place; renaming the table and TRUNCATE are
# refused; DROP TABLE removes the relation everywhere and its engine data
# on every node (a table created again under the same name is empty).
# A collection table (cql_types) and a counter table created on node 0
# take element writes and increments without a read on nodes 1 and 2.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use WidecolCluster;

my @nodes = widecol_cluster(3);

sub has_tam
{
	my ($name) = @_;
	return qq{SELECT count(*) = 1 FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	  WHERE c.relname = '$name' AND a.amname = 'widecol'};
}

sub wait_all
{
	my ($sql, @on) = @_;
	for my $n (@on)
	{
		return 0 unless $n->poll_query_until('postgres', $sql);
	}
	return 1;
}

my $q = "SET widecol.consistency = 'quorum';";

$nodes[0]->safe_psql('postgres', q{
	CREATE SERVER app FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE TABLE readings (id bigint, ts integer, v text, PRIMARY KEY (id, ts))
	  USING widecol WITH (keyspace = 'app', clustering_order = 'ts DESC',
	                      gc_grace_seconds = 3600);
	CREATE TABLE plain (k int PRIMARY KEY, note text) USING widecol;});
ok(wait_all(has_tam('readings'), @nodes[ 1 .. 2 ]), 'the USING widecol table appears on nodes 1 and 2');
ok(wait_all(has_tam('plain'), @nodes[ 1 .. 2 ]), 'a table of the default keyspace too');
is($nodes[2]->safe_psql('postgres', q{SELECT count(*) FROM pg_foreign_server WHERE srvname = 'widecol_default'}),
	'1', 'the default keyspace widecol_default is cluster-wide');
like($nodes[1]->safe_psql('postgres', q{SELECT reloptions::text FROM pg_class WHERE relname = 'readings'}),
	qr/keyspace=app.*primary_key=\(id, ts\).*clustering_order=ts DESC.*gc_grace_seconds=3600/,
	'node 1 has the table\'s options');
my @ids = map {
	$_->safe_psql('postgres', q{SELECT table_id FROM widecol.cluster_schema() WHERE table_name = 'readings'})
} @nodes;
ok($ids[0] > 0 && $ids[1] == $ids[0] && $ids[2] == $ids[0], "one table id everywhere ($ids[0])");

# counters and collections are the same tables on every node: written
# without a read on nodes 1 and 2, read on node 0
$nodes[0]->safe_psql('postgres', q{
	CREATE TABLE carts (k int PRIMARY KEY, items text[]) USING widecol
	  WITH (keyspace = 'app', cql_types = 'items list<text>');
	CREATE TABLE hits (k int PRIMARY KEY, n widecol.counter) USING widecol
	  WITH (keyspace = 'app');});
ok(wait_all(has_tam('carts'), @nodes[ 1 .. 2 ]) && wait_all(has_tam('hits'), @nodes[ 1 .. 2 ]),
	'a collection table and a counter table appear on nodes 1 and 2');
like($nodes[1]->safe_psql('postgres', q{SELECT reloptions::text FROM pg_class WHERE relname = 'carts'}),
	qr/cql_types=items list<text>/, 'node 1 has the collection column\'s cql_types');
for my $i (1, 2)
{
	$nodes[$i]->safe_psql('postgres', "$q UPDATE carts SET items = items || ARRAY['n$i'] WHERE k = 1;
		UPDATE hits SET n = n + $i WHERE k = 1;");
}
is($nodes[0]->safe_psql('postgres', "$q SELECT array_to_string(items, ',') FROM carts WHERE k = 1"),
	'n1,n2', 'appends on nodes 1 and 2 read on node 0');
is($nodes[0]->safe_psql('postgres', "$q SELECT n FROM hits WHERE k = 1"), '3',
	'increments on nodes 1 and 2 read on node 0');
like($nodes[2]->safe_psql('postgres', "EXPLAIN UPDATE carts SET items = items || ARRAY['x'] WHERE k = 1"),
	qr/Custom Scan \(WidecolModify\).*Reads Before Write: none/s, 'node 2 appends without a read');

# written on node 1, read on node 2 (QUORUM both ways)
$nodes[1]->safe_psql('postgres', "$q INSERT INTO readings VALUES (1, 10, 'a'), (1, 20, 'b'), (2, 10, 'c')");
is($nodes[2]->safe_psql('postgres', "$q SELECT string_agg(v, ',' ORDER BY ts) FROM readings WHERE id = 1"),
	'a,b', 'INSERT on node 1, SELECT on node 2');
$nodes[2]->safe_psql('postgres', "$q INSERT INTO plain VALUES (7, 'seven')");
is($nodes[0]->safe_psql('postgres', "$q SELECT note FROM plain WHERE k = 7"), 'seven',
	'the default keyspace\'s table is replicated');

# ALTER: options, ADD / DROP / RENAME COLUMN
$nodes[0]->safe_psql('postgres', q{
	ALTER TABLE readings SET (default_time_to_live = 86400);
	ALTER TABLE readings ADD COLUMN w text;
	ALTER TABLE readings DROP COLUMN v;
	ALTER TABLE readings ADD COLUMN x integer;
	ALTER TABLE readings RENAME COLUMN w TO w2;});
ok(wait_all(q{SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'readings'::regclass
	  AND attname = 'x' AND NOT attisdropped}, @nodes[ 1 .. 2 ]), 'ADD COLUMN reaches nodes 1 and 2');
ok(wait_all(q{SELECT count(*) = 0 FROM pg_attribute WHERE attrelid = 'readings'::regclass
	  AND attname = 'v'}, @nodes[ 1 .. 2 ]), 'DROP COLUMN reaches nodes 1 and 2');
ok(wait_all(q{SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'readings'::regclass
	  AND attname = 'w2'}, @nodes[ 1 .. 2 ]), 'RENAME COLUMN reaches nodes 1 and 2');
ok(wait_all(q{SELECT reloptions::text LIKE '%default_time_to_live=86400%' FROM pg_class
	  WHERE relname = 'readings'}, @nodes[ 1 .. 2 ]), 'ALTER TABLE SET reaches nodes 1 and 2');
for my $col ('w2', 'x')
{
	is($nodes[1]->safe_psql('postgres', qq{SELECT attnum FROM pg_attribute
		  WHERE attrelid = 'readings'::regclass AND attname = '$col'}),
		$nodes[0]->safe_psql('postgres', qq{SELECT attnum FROM pg_attribute
		  WHERE attrelid = 'readings'::regclass AND attname = '$col'}),
		"column $col has the same attribute number (cell) on nodes 0 and 1");
}
$nodes[0]->safe_psql('postgres', "$q INSERT INTO readings (id, ts, w2, x) VALUES (3, 1, 'dub', 42)");
is($nodes[1]->safe_psql('postgres', "$q SELECT w2 || '/' || x FROM readings WHERE id = 3"),
	'dub/42', 'the altered columns carry the same cells on node 1');

# A column added here while this node's materializer follows a change made
# elsewhere: the materializer must not apply the older definition it may
# have read before the ALTER committed (it used to drop the new column).
{
	my $ddl = $nodes[0]->background_psql('postgres');
	$ddl->query_safe('BEGIN');
	$ddl->query_safe('ALTER TABLE readings ADD COLUMN y integer');
	# a change on node 1 starts node 0's materializer while the ALTER is open
	$nodes[1]->safe_psql('postgres',
		'CREATE TABLE elsewhere (k int PRIMARY KEY, note text) USING widecol');
	ok($nodes[0]->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'widecol schema'
		    AND wait_event_type = 'Lock'}), 'node 0\'s materializer waits for the open ALTER');
	$ddl->query_safe('COMMIT');
	$ddl->quit;
	ok($nodes[0]->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_class WHERE relname = 'elsewhere'}),
		'node 0 materializes the table made on node 1');
	ok(wait_all(q{SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'readings'::regclass
		  AND attname = 'y' AND NOT attisdropped}, @nodes), 'the column added meanwhile is kept on every node');
	$nodes[0]->safe_psql('postgres', 'DROP TABLE elsewhere');
}

# refused in a cluster
my ($rc, $out, $err) = $nodes[1]->psql('postgres', 'ALTER TABLE readings RENAME TO r2');
like($err, qr/cannot rename widecol table "readings" in a cluster/, 'renaming the table is refused');
($rc, $out, $err) = $nodes[2]->psql('postgres', 'TRUNCATE readings');
like($err, qr/TRUNCATE of widecol table "readings" is not supported in a cluster/,
	'TRUNCATE is refused, with its reason');
like($err, qr/HINT:  DELETE the rows by partition key/, 'and a hint');

# DROP TABLE drops the relation everywhere and the data on every node
$nodes[0]->safe_psql('postgres', 'DROP TABLE readings');
ok(wait_all(q{SELECT count(*) = 0 FROM pg_class WHERE relname = 'readings'}, @nodes[ 1 .. 2 ]),
	'DROP TABLE reaches nodes 1 and 2');
ok($nodes[2]->wait_for_log(qr/schema: dropped engine table app\.readings/),
	'node 2 dropped the engine data');
$nodes[0]->safe_psql('postgres', q{
	CREATE TABLE readings (id bigint, ts integer, v text, PRIMARY KEY (id, ts))
	  USING widecol WITH (keyspace = 'app')});
ok(wait_all(has_tam('readings'), @nodes[ 1 .. 2 ]), 'created again under the same name');
is($nodes[2]->safe_psql('postgres', "$q SELECT count(*) FROM readings WHERE id IN (1, 2, 3)"), '0',
	'the table created again is empty on every node');

$_->stop for @nodes;
done_testing();
