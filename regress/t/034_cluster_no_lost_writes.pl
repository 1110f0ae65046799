#
# 034_cluster_no_lost_writes.pl - no acknowledged write is lost: one writer
# per node inserts distinct keys at QUORUM for about 45 s while node 2 is
# killed (-9) and restarted again and again; every write a writer saw
# acknowledged is then read back at QUORUM from every node.  Prints the
# counts (acknowledged, refused or failed, kill cycles).
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my $RUN_S = 45;
my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE kv (k bigint, v text) SERVER ks OPTIONS (primary_key 'k');},
	[ 'kv' ]);

# writer $w: keys $w * 1e6 + i on node $w
my @writers = map { start_writer($nodes[$_], "lost_$_", $_ * 1000000, "w$_") } 0 .. 2;

# kill and restart node 2 until the time is up
my $victim = $nodes[2];
my $addr2 = node_address($victim);
my ($t0, $cycles) = (time(), 0);
while (time() - $t0 < $RUN_S - 12)
{
	sleep(3);
	kill_node($victim);
	$cycles++;
	sleep(4);
	$victim->start;
	wait_up_normal(3, $nodes[0], $victim);
}
sleep(3);
my ($acked, $failed) = stop_writers(@writers);
ok(defined wait_up_normal(3, @nodes), 'all nodes up at the end');

my %acked = %$acked;
my $n_acked = scalar(keys %acked);
ok($n_acked > 0, 'some writes were acknowledged');
for my $i (0 .. 2)
{
	my $keys = $nodes[$i]->safe_psql('postgres',
		'SET widecol.consistency = quorum; SELECT k FROM kv');
	my %seen = map { $_ => 1 } split /\n/, $keys;
	my @lost = grep { !$seen{$_} } keys %acked;
	is(scalar(@lost), 0, "node $i reads every acknowledged write at QUORUM")
	  or diag('lost: ' . join(',', (sort @lost)[ 0 .. ($#lost < 9 ? $#lost : 9) ]));
}
diag(sprintf('%d writes acknowledged, %d refused or failed, %d kill cycles of node 2 in %.0f s',
	$n_acked, $failed, $cycles, time() - $t0));

$_->stop for @nodes;
done_testing();
