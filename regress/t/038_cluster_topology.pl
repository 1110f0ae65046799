#
# 038_cluster_topology.pl - growing a cluster: three nodes at RF 2 holding
# data, with one QUORUM writer per node running, gain a fourth node.  The
# new node must show as joining, then normal (the states are polled and
# recorded), stream the ranges it takes over, receive the writes made while
# it streams, and own about a quarter of the ring at the end.  Every write a
# writer saw acknowledged is read back at ALL (which asks the new owners)
# from every node, and the new node's own rows are read at ONE.
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

my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 2}$$);
	CREATE FOREIGN TABLE kv (k bigint, v text) SERVER ks OPTIONS (primary_key 'k');},
	[ 'kv' ]);
$nodes[0]->safe_psql('postgres', q{
	SET widecol.consistency = quorum;
	INSERT INTO kv SELECT g, 'pre' FROM generate_series(1, 3000) g});

my $dir = $PostgreSQL::Test::Utils::tmp_check;

# writer $w: keys ($w + 1) * 1e6 + i on node $w
my @writers = map { start_writer($nodes[$_], "topo_$_", ($_ + 1) * 1000000, "w$_") } 0 .. 2;
sleep(2);

# a fourth instance with the seed of the others
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
my $t0 = time();
$new->start;
$new->safe_psql('postgres', 'CREATE EXTENSION widecol');

# the new node's state as node 0 sees it, every 0.2 s, until it is normal
my @states;
my $new_addr = "127.0.0.1:$port";
while (time() - $t0 < 60)
{
	my $st = $nodes[0]->safe_psql('postgres',
		"SELECT state FROM widecol.nodes WHERE address = '$new_addr'");
	push @states, $st if $st ne '' && (!@states || $states[-1] ne $st);
	last if $st eq 'normal';
	sleep(0.2);
}
is(join(' -> ', @states), 'joining -> normal', 'node 0 saw the new node joining, then normal');
my $join_s = time() - $t0;
ok($new->log_contains(qr/bootstrap finished \(\d+ ranges streamed\)/),
	'the new node streamed its ranges');
my $streams = $new->safe_psql('postgres', q{
	SELECT count(*), bool_and(direction = 'in' AND state = 'done' AND ranges_done = ranges_total),
	       sum(rows) > 0, sum(bytes) > 0
	FROM widecol.streams});
like($streams, qr/^[1-3]\|t\|t\|t$/, "widecol.streams on the new node: one finished pull per source ($streams)");
my $served = 0;
$served += $nodes[$_]->safe_psql('postgres',
	"SELECT count(*) FROM widecol.streams WHERE direction = 'out' AND rows > 0") for 0 .. 2;
ok($served >= 1, "widecol.streams on the sources shows what they served ($served)");

# keep writing a little with four nodes, then stop the writers
sleep(2);
my ($acked) = stop_writers(@writers);
push @nodes, $new;
ok(defined wait_up_normal(4, @nodes), 'four nodes up and normal');

# ownership rebalanced: each of the four holds about a quarter (RF 2: half the ring)
my $owns = $nodes[0]->safe_psql('postgres',
	"SELECT string_agg(round(owns::numeric, 2)::text, ' ' ORDER BY address) FROM widecol.nodes('ks')");
my @owns = split / /, $owns;
is(scalar(@owns), 4, 'four owners');
ok(!(grep { $_ < 0.15 || $_ > 0.35 } @owns), "ownership rebalanced ($owns)");

my %acked = (%$acked, map { $_ => 1 } (1 .. 3000));
my $n_acked = scalar(keys %acked);

# first at ONE on the new node, before any read at ALL repairs it: the
# ranges it owns are served by its own replica, so they must have streamed
# (or reached it as pending writes while it streamed)
# (the new node's catalog gets kv from the cluster schema in the background,
# which a fast bootstrap can beat)
$new->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_class WHERE relname = 'kv'})
  or die 'the new node did not get table kv';
my $one = $new->safe_psql('postgres', q{SET widecol.consistency = 'one'; SELECT k FROM kv});
my %seen_one = map { $_ => 1 } split /\n/, $one;
my @lost_one = grep { !$seen_one{$_} } keys %acked;
is(scalar(@lost_one), 0, 'the new node reads every acknowledged write at ONE')
  or diag('missing: ' . join(',', (sort @lost_one)[ 0 .. ($#lost_one < 9 ? $#lost_one : 9) ]));
for my $i (0 .. 3)
{
	my $keys = $nodes[$i]->safe_psql('postgres', q{SET widecol.consistency = 'all'; SELECT k FROM kv});
	my %seen = map { $_ => 1 } split /\n/, $keys;
	my @lost = grep { !$seen{$_} } keys %acked;
	is(scalar(@lost), 0, "node $i reads every acknowledged write at ALL")
	  or diag('lost: ' . join(',', (sort @lost)[ 0 .. ($#lost < 9 ? $#lost : 9) ]));
}
diag(sprintf('%d writes acknowledged; the new node joined in %.1f s', $n_acked, $join_s));

$_->stop for @nodes;
done_testing();
