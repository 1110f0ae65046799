#
# 039_cluster_repair.pl - anti-entropy repair with hinted handoff off: node
# 2 is killed, 200 rows are written at QUORUM, node 2 comes back without
# them (a read at ONE on it, which reads its own replica, misses them);
# widecol.repair() on it reports mismatched ranges and streamed rows, a
# read at ONE then sees every row, and a second repair finds nothing to
# do.  Then a replication change: a keyspace of factor 1 altered to
# factor 3 and repaired once holds every row on all three nodes (a read
# at ONE on each node, which reads its own replica first, sees them all).
# Last, a snapshot of node 0 restored over its engine files.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use File::Path ();
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my @nodes = widecol_cluster(3, conf => "widecol.hinted_handoff_enabled = off\n");
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE kv (k bigint, v text) SERVER ks OPTIONS (primary_key 'k');
	CREATE SERVER ks1 FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE kv1 (k bigint, v text) SERVER ks1 OPTIONS (primary_key 'k');},
	[ 'kv', 'kv1' ]);

my $one = 'SET widecol.consistency = one; ';
my ($n0, $victim) = ($nodes[0], $nodes[2]);
$n0->safe_psql('postgres',
	"SET widecol.consistency = 'all'; INSERT INTO kv SELECT g, 'before' FROM generate_series(1, 50) g");

my $addr2 = node_address($victim);
kill_node($victim);
ok(wait_down($n0, $addr2), 'node 2 is down');
$n0->safe_psql('postgres',
	"SET widecol.consistency = quorum; INSERT INTO kv SELECT g, 'while down' FROM generate_series(51, 250) g;"
	  . " UPDATE kv SET v = 'changed' WHERE k = 7; DELETE FROM kv WHERE k = 8");
$victim->start;
ok(defined wait_up_normal(3, @nodes), 'node 2 is back');

is($victim->safe_psql('postgres', $one . 'SELECT count(*) FROM kv'), '50',
	'node 2 misses what was written while it was down (no hints)');

my $r = $victim->safe_psql('postgres',
	'SELECT ranges, ranges_compared, ranges_mismatched > 0, rows_streamed >= 200, bytes_streamed > 0'
	  . ' FROM widecol.repair(\'kv\')');
my ($ranges, $compared, $mism, $rows, $bytes) = split /\|/, $r;
ok($ranges > 0 && $compared == $ranges, "repair compared every range ($r)");
is($mism, 't', 'repair found mismatched ranges');
is($rows, 't', 'repair streamed the missing rows');
is($bytes, 't', 'repair streamed bytes');

is($victim->safe_psql('postgres', $one . 'SELECT count(*) FROM kv'), '249',
	'after repair a read at ONE on node 2 sees every row');
is($victim->safe_psql('postgres', $one . 'SELECT v FROM kv WHERE k = 7'), 'changed',
	'the update reached node 2');
is($victim->safe_psql('postgres', $one . 'SELECT count(*) FROM kv WHERE k = 8'), '0',
	'the delete (a tombstone) reached node 2');

is($victim->safe_psql('postgres',
		'SELECT ranges_mismatched, rows_streamed FROM widecol.repair(\'kv\', primary_range => true)'),
	'0|0', 'a second repair finds nothing to repair');
is($victim->safe_psql('postgres',
		"SELECT count(*), bool_and(state = 'done') FROM widecol.repairs"),
	'2|t', 'widecol.repairs lists both repairs as done');

# replication change: factor 1 -> 3, then one repair
$n0->safe_psql('postgres',
	$one . "INSERT INTO kv1 SELECT g, 'rf1' FROM generate_series(1, 300) g");
$n0->safe_psql('postgres', q{ALTER SERVER ks1
	OPTIONS (SET replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$)});
# once a node uses factor 3 it is a replica of every range and a read at ONE
# reads its own copy: before the repair that is its factor-1 share only
for my $node (@nodes)
{
	ok(poll_until($node, $one . 'SELECT count(*) < 300 FROM kv1', 't'),
		$node->name . ' uses factor 3 and holds only its factor-1 share');
}
$r = $n0->safe_psql('postgres', 'SELECT ranges_mismatched > 0 FROM widecol.repair(\'kv1\')');
is($r, 't', 'the repair after the replication change found mismatches');
for my $i (0 .. 2)
{
	is($nodes[$i]->safe_psql('postgres', $one . 'SELECT count(*) FROM kv1'), '300',
		"node $i holds every row of the factor-3 keyspace");
}
# the same with the other two nodes stopped: only node 0's own copy can answer
$nodes[1]->stop;
$nodes[2]->stop;
is($n0->safe_psql('postgres', $one . 'SELECT count(*) FROM kv1'), '300',
	'node 0 alone reads every row at ONE');

# snapshot, write more, stop, put the snapshot's files in place of the
# engine's (commit log removed), start: the rows are those of the snapshot
my $edir = $n0->safe_psql('postgres', 'SELECT data_directory FROM widecol.node_status()');
is($n0->safe_psql('postgres',
		"SELECT snapshot, tables >= 2, files > 3 FROM widecol.snapshot('before')"),
	'before|t|t', 'snapshot of every table taken');
is($n0->safe_psql('postgres', 'SELECT snapshot FROM widecol.snapshots'), 'before',
	'widecol.snapshots lists it');
ok(-f "$edir/snapshots/before/catalog", 'the snapshot holds the catalog');
# one statement per row: a statement of several partitions is a logged
# batch, which needs a live batchlog holder, and nodes 1 and 2 are down
$n0->safe_psql('postgres',
	$one . join('', map { "INSERT INTO kv1 VALUES ($_, 'after');\n" } 301 .. 350));
is($n0->safe_psql('postgres', $one . 'SELECT count(*) FROM kv1'), '350', 'more rows written');
$n0->stop;
File::Path::remove_tree($_) for (glob("$edir/t[0-9]*"), "$edir/commitlog");
unlink("$edir/catalog");
system('cp', '-a', "$edir/snapshots/before/.", "$edir/") == 0 or die 'cp failed';
$n0->start;
ok(poll_until($n0, $one . 'SELECT count(*) FROM kv1', '300'),
	'after the restore the table holds the rows of the snapshot');
$n0->safe_psql('postgres', $one . "INSERT INTO kv1 VALUES (999, 'restored')");
$n0->restart;
ok(poll_until($n0, $one . 'SELECT count(*) FROM kv1', '301'),
	'a write after the restore survives a restart');
is($n0->safe_psql('postgres', "SELECT count(*) FROM widecol.clear_snapshot('before')"), '1',
	'clear_snapshot removes it');
ok(!-e "$edir/snapshots/before", 'its directory is gone');

$n0->stop;
done_testing();
