#
# 033_cluster_two_dc.pl - NetworkTopologyStrategy over two data centres
# (dc1: nodes 0 and 1, dc2: node 2; factors dc1 2, dc2 1): LOCAL_QUORUM
# and EACH_QUORUM work while all are up; with dc2 down (its node killed),
# LOCAL_QUORUM writes and reads on dc1 still work and EACH_QUORUM is
# refused with SQLSTATE WC002, the detail naming the data centre.
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
use WidecolCluster;

my @nodes = widecol_cluster(3, dcs => [ 'dc1', 'dc1', 'dc2' ]);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 1}$$);
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks OPTIONS (primary_key 'k');},
	[ 'kv' ]);

sub run
{
	my ($node, $cl, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSET widecol.consistency = $cl;\n$sql");
	return ($ret, $out, $err);
}

my ($ret, $out, $err) = run($nodes[0], 'each_quorum',
	"INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 50) g;");
is($ret, 0, 'EACH_QUORUM write with both data centres up') or diag($err);
($ret, $out) = run($nodes[2], 'local_quorum', 'SELECT count(*) FROM kv;');
is($out, '50', 'LOCAL_QUORUM read in dc2 sees them');

# dc2 goes down
my $addr2 = node_address($nodes[2]);
kill_node($nodes[2]);
ok(wait_down($_, $addr2), 'dc2 is down') for @nodes[ 0, 1 ];
($ret, $out, $err) = run($nodes[0], 'local_quorum',
	"INSERT INTO kv SELECT g, 'v' || g FROM generate_series(51, 80) g;");
is($ret, 0, 'LOCAL_QUORUM write with dc2 down') or diag($err);
($ret, $out) = run($nodes[1], 'local_quorum', 'SELECT count(*) FROM kv;');
is($out, '80', 'LOCAL_QUORUM read on the other dc1 node');
($ret, $out, $err) = run($nodes[0], 'each_quorum', "INSERT INTO kv VALUES (500, 'x');");
isnt($ret, 0, 'EACH_QUORUM write refused with dc2 down');
like($err, qr/ERROR:  WC002: not enough replicas for consistency level EACH_QUORUM/,
	'EACH_QUORUM: SQLSTATE WC002');
like($err, qr/DETAIL:  consistency EACH_QUORUM needs 1 replica in data centre dc2, 0 alive/,
	'EACH_QUORUM: the detail names dc2');
($ret, $out, $err) = run($nodes[1], 'each_quorum', 'SELECT v FROM kv WHERE k = 1;');
like($err, qr/WC002/, 'EACH_QUORUM read refused with dc2 down');

$nodes[2]->start;
ok(defined wait_up_normal(3, @nodes), 'dc2 back');
$_->stop for @nodes;
done_testing();
