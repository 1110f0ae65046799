#
# 030_cluster_membership.pl - three instances on 127.0.0.1 form a cluster:
# every node's widecol.nodes shows three nodes up and normal with the same
# host ids and tokens, and widecol.ring is the same everywhere; a node
# whose postmaster and widecol node are killed (-9) is shown down by the
# others; restarted, it is up again with the same host id and tokens.
# Prints the gossip convergence and failure-detection times.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use WidecolNode;

my @nodes = widecol_cluster_nodes('member', 3);

# What a node sees: one line per node, sorted by address.
sub view
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT address, status, state, host_id, tokens FROM widecol.nodes ORDER BY address});
}

sub ring
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT count(*) || ' ' || md5(string_agg(token || '@' || address, ',' ORDER BY token)) FROM widecol.ring});
}

# Seconds until every given node shows $want nodes up and normal (undef on timeout).
sub wait_up_normal
{
	my ($want, @on) = @_;
	my $t0 = time();
	for my $n (@on)
	{
		return undef unless $n->poll_query_until('postgres', qq{
			SELECT count(*) FILTER (WHERE status = 'up' AND state = 'normal' AND tokens = 16) = $want
			FROM widecol.nodes});
	}
	return time() - $t0;
}

# Nodes join one at a time, the seed first.
my $t0 = time();
for my $i (0 .. 2)
{
	$nodes[$i]->start;
	$nodes[$i]->safe_psql('postgres', 'CREATE EXTENSION widecol');
	ok(defined wait_up_normal($i + 1, @nodes[ 0 .. $i ]), "node $i joined");
}
my $converged = time() - $t0;
diag(sprintf("membership converged in %.1f s (three nodes started one after another)", $converged));

my $v0 = view($nodes[0]);
is(scalar(split /\n/, $v0), 3, 'three nodes known');
unlike($v0, qr/down|joining/, 'all up and normal');
is(view($nodes[1]), $v0, 'node 1 sees what node 0 sees');
is(view($nodes[2]), $v0, 'node 2 sees what node 0 sees');
my $r0 = ring($nodes[0]);
like($r0, qr/^48 /, 'the ring has 3 x 16 tokens');
is(ring($nodes[1]), $r0, 'same ring on node 1');
is(ring($nodes[2]), $r0, 'same ring on node 2');
is($nodes[0]->safe_psql('postgres', 'SELECT round(sum(owns)::numeric, 6) FROM widecol.nodes'),
	'1.000000', 'token shares sum to 1');

# kill -9 the postmaster and the widecol node of node 2: no goodbye
my $victim = $nodes[2];
my ($addr2, $id2, $tokens2) = split /\|/, $victim->safe_psql('postgres',
	q{SELECT address, host_id, (SELECT string_agg(token::text, ',' ORDER BY token) FROM widecol.ring r WHERE r.address = n.address)
	  FROM widecol.nodes n WHERE sql_address LIKE '%:} . $victim->port . q{'});
ok($addr2, "victim is $addr2");
my $wpid = $victim->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');
kill 'KILL', $wpid;
$victim->kill9;
$t0 = time();
for my $n (@nodes[ 0 .. 1 ])
{
	ok($n->poll_query_until('postgres',
		"SELECT status = 'down' FROM widecol.nodes WHERE address = '$addr2'"),
		'the killed node is shown down');
}
diag(sprintf("failure detected in %.1f s (widecol.phi_convict_threshold = 5)", time() - $t0));
is($nodes[0]->safe_psql('postgres', "SELECT state FROM widecol.nodes WHERE address = '$addr2'"),
	'normal', 'a down node keeps its state and tokens');

# restart: up again with the same host id and tokens
$victim->start;
ok(defined wait_up_normal(3, @nodes), 'the restarted node is up again everywhere');
for my $n (@nodes)
{
	is($n->safe_psql('postgres', "SELECT host_id FROM widecol.nodes WHERE address = '$addr2'"),
		$id2, 'same host id after the restart');
	is($n->safe_psql('postgres',
		"SELECT string_agg(token::text, ',' ORDER BY token) FROM widecol.ring WHERE address = '$addr2'"),
		$tokens2, 'same tokens after the restart');
}

$_->stop for @nodes;
done_testing();
