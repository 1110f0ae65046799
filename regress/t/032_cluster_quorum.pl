#
# 032_cluster_quorum.pl - replicated writes and reads at a consistency
# level on three instances (keyspace replication factor 3, so every node is
# a replica of everything): QUORUM writes on node 0 are read at QUORUM on
# nodes 1 and 2; with node 2 killed (-9) QUORUM still works and ALL is
# refused with SQLSTATE WC002 and a detail of what the level needs (a
# transaction's COMMIT too, rolling back its heap write); node 2
# restarted gets the writes it missed as hints (read at ONE on node 2, which
# reads itself); with hinted handoff off, node 2 misses writes until a
# QUORUM read repairs it.  Prints the failure-detection and hint-delivery
# times.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks OPTIONS (primary_key 'k');
	CREATE FOREIGN TABLE wide (p int, c int, v text) SERVER ks OPTIONS (primary_key '(p, c)');},
	[ 'kv', 'wide' ]);

# count and sum of k on $node at level $cl (a scan of many small pages)
sub summary
{
	my ($node, $cl) = @_;
	return $node->safe_psql('postgres',
		"SET widecol.consistency = $cl; SET widecol.fetch_size = 7; "
		  . "SELECT count(*) || ' ' || coalesce(sum(k), 0) FROM kv");
}

sub write_rows
{
	my ($node, $cl, $from, $to) = @_;
	return $node->psql('postgres',
		"SET widecol.consistency = $cl; INSERT INTO kv SELECT g, 'v' || g FROM generate_series($from, $to) g");
}

# QUORUM writes on node 0, QUORUM reads everywhere
is(write_rows($nodes[0], 'quorum', 1, 100), 0, 'QUORUM writes on node 0');
is(summary($_, 'quorum'), '100 5050', 'QUORUM read of every row') for @nodes[ 1, 2 ];
is($nodes[1]->safe_psql('postgres', "SET widecol.consistency = quorum; SELECT v FROM kv WHERE k = 42"),
	'v42', 'QUORUM point read on node 1');

# partitions of ten rows, scanned in pages of 7 rows: pages end inside partitions
$nodes[0]->safe_psql('postgres', "SET widecol.consistency = quorum; "
	  . "INSERT INTO wide SELECT p, c, 'x' FROM generate_series(1, 20) p, generate_series(1, 10) c");
my ($ret, $out, $err) = $nodes[1]->psql('postgres',
	"SET widecol.consistency = quorum; SET widecol.fetch_size = 7; SET statement_timeout = '60s'; "
	  . "SELECT count(*) || ' ' || count(DISTINCT p) || ' ' || sum(c) FROM wide");
is($out, '200 20 1100', 'a paged QUORUM scan returns every row of every partition once')
  or diag($err);

# kill node 2: QUORUM works, ALL is unavailable
my $victim = $nodes[2];
my $addr2 = node_address($victim);
kill_node($victim);
my $t0 = time();
ok(wait_down($_, $addr2), 'node 2 is seen down') for @nodes[ 0, 1 ];
diag(sprintf("failure detected in %.1f s (widecol.phi_convict_threshold = 5)", time() - $t0));
is(write_rows($nodes[0], 'quorum', 101, 200), 0, 'QUORUM writes with one replica down');
is(summary($nodes[1], 'quorum'), '200 20100', 'QUORUM read with one replica down');
($ret, $out, $err) = $nodes[0]->psql('postgres',
	"\\set VERBOSITY verbose\nSET widecol.consistency = 'all';\nINSERT INTO kv VALUES (1000, 'x');");
isnt($ret, 0, 'ALL write refused with a replica down');
like($err, qr/ERROR:  WC002: not enough replicas for consistency level ALL/, 'ALL: SQLSTATE WC002');
like($err, qr/DETAIL:  consistency ALL needs 3 replicas, 2 alive/, 'ALL: detail with needed and alive');
like($err, qr/HINT:  .*widecol\.consistency/, 'ALL: hint');
($ret, $out, $err) = $nodes[1]->psql('postgres',
	"\\set VERBOSITY verbose\nSET widecol.consistency = 'all';\nSELECT v FROM kv WHERE k = 1;");
like($err, qr/ERROR:  WC002: .*\n.*DETAIL:  consistency ALL needs 3 replicas, 2 alive/,
	'ALL read refused with WC002');
is($nodes[0]->safe_psql('postgres', 'SELECT count(*) FROM kv WHERE k = 1000'), '0',
	'the refused write was applied nowhere');
# a transaction whose COMMIT cannot meet ALL aborts with the cluster's
# error: its heap write is rolled back, none of its widecol writes stored
$nodes[0]->safe_psql('postgres', 'CREATE TABLE heap_log (k int)');
($ret, $out, $err) = $nodes[0]->psql('postgres',
	"\\set VERBOSITY verbose\nBEGIN;\nSET LOCAL widecol.consistency = 'all';\n"
	  . "INSERT INTO heap_log VALUES (1);\n"
	  . "INSERT INTO kv SELECT g, 'txn' FROM generate_series(1001, 1010) g;\nCOMMIT;");
like($err, qr/ERROR:  WC002: not enough replicas for consistency level ALL/,
	'COMMIT at ALL with a replica down: SQLSTATE WC002');
is($nodes[0]->safe_psql('postgres',
	"SET widecol.allow_filtering = on; "
	  . "SELECT (SELECT count(*) FROM heap_log) || ' ' || (SELECT count(*) FROM kv WHERE k > 1000)"),
	'0 0', 'the failed COMMIT rolled back the heap write and stored no widecol write');

# node 2 comes back: the hints bring it every write it missed
$victim->start;
ok(defined wait_up_normal(3, @nodes), 'node 2 is up again');
$t0 = time();
ok(poll_until($victim, "SET widecol.consistency = one; SELECT count(*) || ' ' || sum(k) FROM kv",
	'200 20100'), 'node 2 reads every write at ONE (hints delivered)');
diag(sprintf("hints delivered %.1f s after node 2 was up", time() - $t0));

# hinted handoff off: node 2 misses writes until a QUORUM read repairs them
for my $n (@nodes[ 0, 1 ])
{
	$n->safe_psql('postgres', 'ALTER SYSTEM SET widecol.hinted_handoff_enabled = off');
	$n->reload;
}
kill_node($victim);
ok(wait_down($_, $addr2), 'node 2 down again') for @nodes[ 0, 1 ];
is(write_rows($nodes[0], 'quorum', 201, 250), 0, 'QUORUM writes without hints');
$victim->start;
ok(defined wait_up_normal(3, @nodes), 'node 2 is up again');
sleep(2);
is(summary($victim, 'one'), '200 20100', 'without hints node 2 misses the writes (read at ONE)');
is(summary($victim, 'quorum'), '250 31375', 'a QUORUM read on node 2 sees them');
is(summary($victim, 'one'), '250 31375', 'read repair brought them to node 2');

$_->stop for @nodes;
done_testing();
