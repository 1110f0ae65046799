#
# 044_cluster_decommission.pl - growing and shrinking a cluster under
# writes: three nodes at RF 2, with a QUORUM writer running, gain a fourth
# node (joining -> normal), the old owners clean up the rows they no longer
# own, then one node is decommissioned (leaving -> left, the states polled
# from another node while the decommission runs).  Every write the writer
# saw acknowledged is read back at ALL from every node that stays, the
# ownership is rebalanced after each change, and the node that left
# refuses requests; a cleanup while a node leaves is refused.  Last, a node stops for good and is removed with
# widecol.removenode from a survivor: the two that stay hold everything,
# and neither may leave (RF 2 on two nodes).
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use POSIX ();
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my $t_start = time();
my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 2}$$);
	CREATE FOREIGN TABLE kv (k bigint, v text) SERVER ks OPTIONS (primary_key 'k');},
	[ 'kv' ]);
$nodes[0]->safe_psql('postgres', q{
	SET widecol.consistency = quorum;
	INSERT INTO kv SELECT g, 'pre' FROM generate_series(1, 2000) g});

my $dir = $PostgreSQL::Test::Utils::tmp_check;

# one writer on node 0: keys 1e6 + i
my $writer = start_writer($nodes[0], 'decom', 1000000, 'w');

# $node's view of the state of $addr, recorded whenever it changes, until $last
sub states_until
{
	my ($node, $addr, $last, $secs) = @_;
	my @states;
	my $t0 = time();
	while (time() - $t0 < $secs)
	{
		my $st = $node->safe_psql('postgres',
			"SELECT state FROM widecol.nodes WHERE address = '$addr'");
		push @states, $st if $st ne '' && (!@states || $states[-1] ne $st);
		last if $st eq $last;
		sleep(0.1);
	}
	return join(' -> ', @states);
}

sub owns
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(round(owns::numeric, 2)::text, ' ' ORDER BY address) "
		  . "FROM widecol.nodes('ks') WHERE state = 'normal'");
}

# ---- bootstrap a fourth node
my $seed = node_address($nodes[0]);
my $new = PostgreSQL::Test::Cluster->new('member3');
my $port = PostgreSQL::Test::Cluster::get_free_port();
$new->init;
$new->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'widecol'
widecol.cluster_name = 'tap'
widecol.listen_address = '127.0.0.1'
widecol.port = $port
widecol.seeds = '$seed'
widecol.cluster_secret_file = '$dir/cluster_secret'
widecol.phi_convict_threshold = 5
widecol.datacenter = 'dc1'
});
$new->start;
$new->safe_psql('postgres', 'CREATE EXTENSION widecol');
is(states_until($nodes[0], "127.0.0.1:$port", 'normal', 60), 'joining -> normal',
	'node 0 saw the new node joining, then normal');
push @nodes, $new;
ok(defined wait_up_normal(4, @nodes), 'four nodes up and normal');
my @owns = split / /, owns($nodes[0]);
is(scalar(@owns), 4, 'four owners');
ok(!(grep { $_ < 0.15 || $_ > 0.35 } @owns), 'ownership rebalanced over four nodes (' . join(' ', @owns) . ')');

# ---- cleanup on the old owners while the writer runs: they drop what moved
my $dropped = 0;
for my $i (0 .. 2)
{
	my $r = $nodes[$i]->safe_psql('postgres',
		'SELECT partitions_dropped, rows_dropped FROM widecol.cleanup(\'kv\')');
	my ($p, $rows) = split /\|/, $r;
	$dropped += $p;
}
ok($dropped > 300, "cleanup on the old owners dropped the partitions they gave away ($dropped)");
my $again = $nodes[0]->safe_psql('postgres', 'SELECT partitions_dropped FROM widecol.cleanup()');
is($again, '0', 'a second cleanup finds nothing more to drop');
my $total = $nodes[2]->safe_psql('postgres',
	q{SET widecol.consistency = 'all'; SELECT count(*) >= 2000 FROM kv});
is($total, 't', 'after cleanup a read at ALL still finds every row');

# ---- decommission node 1 while the writer runs; node 0 watches its state
my $leaver = $nodes[1];
my $leaver_addr = node_address($leaver);
my $decom = fork();
die "fork: $!" unless defined $decom;
if ($decom == 0)
{
	my ($ret, $out, $err) = $leaver->psql('postgres',
		'SELECT ranges > 0 AND targets > 0 AND rows_streamed > 0 FROM widecol.decommission()',
		timeout => 120);
	open(my $f, '>', "$dir/decom_result") or die;
	print $f "$ret|$out|$err";
	close($f);
	POSIX::_exit(0);
}
# while the node is leaving, node 2 refuses a cleanup (it would drop what streams in)
my $seen2 = states_until($nodes[2], $leaver_addr, 'leaving', 30);
my ($cr, $co, $ce) = $nodes[2]->psql('postgres', "SELECT * FROM widecol.cleanup('kv')");
ok($cr != 0 && $ce =~ /the ring is changing/ && $ce =~ /is leaving/,
	'cleanup is refused while a node is leaving') or diag("$seen2: $ce");
my $seen = states_until($nodes[0], $leaver_addr, 'left', 90);
waitpid($decom, 0);
open(my $rf, '<', "$dir/decom_result") or die;
my $result = <$rf>;
close($rf);
is($result, '0|t|', 'widecol.decommission() streamed the ranges away');
like($seen, qr/^(normal -> )?leaving -> left$/, "node 0 saw the node leaving, then left ($seen)");

# keep writing a little with three nodes, then stop the writer
sleep(1);
my ($acked) = stop_writers($writer);
my @stay = ($nodes[0], $nodes[2], $nodes[3]);
ok(defined wait_up_normal(3, @stay), 'three nodes up and normal');
@owns = split / /, owns($nodes[0]);
is(scalar(@owns), 3, 'three owners');
ok(!(grep { $_ < 0.2 || $_ > 0.47 } @owns), 'ownership rebalanced over three nodes (' . join(' ', @owns) . ')');

my ($ret, $out, $err) = $leaver->psql('postgres', 'SELECT count(*) FROM kv');
ok($ret != 0 && $err =~ /left its cluster/, 'the node that left refuses requests')
  or diag($err);

my %acked = (%$acked, map { $_ => 1 } (1 .. 2000));
my $n_acked = scalar(keys %acked);
for my $i (0 .. 2)
{
	my $keys = $stay[$i]->safe_psql('postgres', q{SET widecol.consistency = 'all'; SELECT k FROM kv});
	my %seen = map { $_ => 1 } split /\n/, $keys;
	my @lost = grep { !$seen{$_} } keys %acked;
	is(scalar(@lost), 0, "a staying node reads every acknowledged write at ALL ($i)")
	  or diag('lost: ' . join(',', (sort @lost)[ 0 .. ($#lost < 9 ? $#lost : 9) ]));
}

# ---- removenode: the fourth node dies (stopped: it announces it, so nobody waits for
# the failure detector), then node 0 removes it
my $dead_id = $nodes[0]->safe_psql('postgres',
	"SELECT host_id FROM widecol.nodes WHERE address = '127.0.0.1:$port'");
my ($r1) = $nodes[0]->psql('postgres', "SELECT * FROM widecol.removenode('$dead_id')");
isnt($r1, 0, 'removenode refuses a live node');
$new->stop;
ok(wait_down($nodes[0], "127.0.0.1:$port"), 'node 0 sees the fourth node down');
my $rm = $nodes[0]->safe_psql('postgres',
	"SELECT ranges > 0 AND targets > 0 FROM widecol.removenode('$dead_id')");
is($rm, 't', 'removenode streamed the dead node\'s ranges from the survivors');
ok(poll_until($nodes[2], "SELECT state FROM widecol.nodes WHERE address = '127.0.0.1:$port'", 'left'),
	'node 2 shows the removed node as left');
for my $i (0, 2)
{
	my $keys = $nodes[$i]->safe_psql('postgres', q{SET widecol.consistency = 'all'; SELECT k FROM kv});
	my %seen = map { $_ => 1 } split /\n/, $keys;
	my @lost = grep { !$seen{$_} } keys %acked;
	is(scalar(@lost), 0, "after removenode node $i reads every acknowledged write at ALL")
	  or diag('lost: ' . join(',', (sort @lost)[ 0 .. ($#lost < 9 ? $#lost : 9) ]));
}
# two nodes at RF 2: neither may leave
my ($dr, $do, $de) = $nodes[0]->psql('postgres', 'SELECT * FROM widecol.decommission()');
ok($dr != 0 && $de =~ /replication factor 2, and only 1 nodes would remain/,
	'decommission is refused when the replication factor would exceed the nodes that stay')
  or diag($de);
diag(sprintf('%d writes acknowledged; the test took %.1f s', $n_acked, time() - $t_start));

$_->stop for ($nodes[0], $nodes[1], $nodes[2]);
done_testing();
