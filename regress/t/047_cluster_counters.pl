#
# 047_cluster_counters.pl - counters on a cluster of three instances
# (replication factor 3): a delta is applied by one leader replica and only
# its shard is replicated, so increments sum exactly.
#
# Two sessions on different nodes each make 300 increments at QUORUM at the
# same time: every node reads 600 (applying the delta on every replica
# would read 1800).  With node 2 stopped, increments at QUORUM still work,
# at ALL they are refused (WC002) and count nothing; node 2 restarted reads
# the sum at ALL, and at ONE once that read repaired it.  A counter update
# in a transaction with another write is refused with a hint.
#
# Collections travel in the cluster schema: a list column (cql_type
# 'list<text>') created on node 0 is a list on node 1 too, and the same two
# sessions append one element per increment there without a read: the list
# ends with 300 elements from each node.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE event_aggregations (event_type text, date date,
	    count widecol.counter) SERVER ks OPTIONS (primary_key '((event_type), date)');
	CREATE FOREIGN TABLE events (id int, v text) SERVER ks OPTIONS (primary_key 'id');
	CREATE FOREIGN TABLE orders (order_id int, items text[] OPTIONS (cql_type 'list<text>'))
	    SERVER ks OPTIONS (primary_key 'order_id');},
	[ 'event_aggregations', 'events', 'orders' ]);

# the collection column is a list on node 1 as well, written without a read
is( $nodes[1]->safe_psql('postgres',
		"SELECT attfdwoptions FROM pg_attribute WHERE attrelid = 'orders'::regclass "
		  . "AND attname = 'items'"),
	'{column_id=2,cql_type=list<text>}',
	'node 1 got the cql_type of the collection created on node 0');
like(
	$nodes[1]->safe_psql('postgres',
		"EXPLAIN UPDATE orders SET items = items || ARRAY['x'] WHERE order_id = 1"),
	qr/Reads Before Write: none/,
	'node 1 appends to the list without a read');

my $incr = q{UPDATE event_aggregations SET count = count + 1
 WHERE event_type = 'click' AND date = '2026-01-01';};
my $append = q{UPDATE orders SET items = items || ARRAY['n' || :node] WHERE order_id = 1;};
my $script = "$PostgreSQL::Test::Utils::tmp_check/047_incr.sql";
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh "$incr\n$append\n";
close($fh);

sub value_at
{
	my ($node, $cl) = @_;
	return $node->safe_psql('postgres',
		"SET widecol.consistency = '$cl'; SELECT count FROM event_aggregations "
		  . "WHERE event_type = 'click' AND date = '2026-01-01'");
}

# the list's length and the elements appended by node 0 and by node 1
sub items_at
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SET widecol.consistency = 'quorum'; SELECT cardinality(items) || ' ' || "
		  . "(SELECT count(*) FROM unnest(items) i WHERE i = 'n0') || ' ' || "
		  . "(SELECT count(*) FROM unnest(items) i WHERE i = 'n1') FROM orders WHERE order_id = 1");
}

# pgbench of $n increments and appends on $node at QUORUM, started (not waited for)
sub start_pgbench
{
	my ($node, $n, $out, $err) = @_;
	my $id = $node == $nodes[0] ? 0 : 1;
	local $ENV{PGOPTIONS} = '-c widecol.consistency=quorum';
	return IPC::Run::start(
		[
			'pgbench', '--no-vacuum', '--client=1', "--transactions=$n",
			"--define=node=$id", '-f', $script, '-h', $node->host, '-p', $node->port,
			'postgres'
		],
		'>', $out, '2>', $err);
}

# two sessions on two nodes at the same time
my ($out0, $err0, $out1, $err1) = ('', '', '', '');
my $h0 = start_pgbench($nodes[0], 300, \$out0, \$err0);
my $h1 = start_pgbench($nodes[1], 300, \$out1, \$err1);
$h0->finish;
$h1->finish;
like($out0, qr{number of transactions actually processed: 300/300}, 'node 0: 300 increments')
  or diag($err0);
like($out1, qr{number of transactions actually processed: 300/300}, 'node 1: 300 increments')
  or diag($err1);
for my $o ([ 0, $out0 ], [ 1, $out1 ])
{
	diag("node $o->[0]: $1 (each UPDATE its own transaction, at QUORUM)")
	  if $o->[1] =~ /(tps = [\d.]+)/;
}
is(value_at($nodes[2], 'quorum'), '600', '2 x 300 increments on two nodes read 600 at QUORUM');
is(value_at($_, 'all'), '600', $_->name . ' reads 600 at ALL') for @nodes[ 0, 1 ];
is(items_at($nodes[2]), '600 300 300',
	'300 + 300 concurrent appends on nodes 0 and 1: 600 elements, none lost');

# node 2 down (a clean stop: the others see it down at once): QUORUM
# increments work, ALL ones are refused and count nothing
my $addr2 = node_address($nodes[2]);
$nodes[2]->stop;
ok(wait_down($_, $addr2), 'node 2 is seen down') for @nodes[ 0, 1 ];
my ($o, $e) = ('', '');
my $h = start_pgbench($nodes[0], 100, \$o, \$e);
$h->finish;
like($o, qr{number of transactions actually processed: 100/100},
	'100 increments at QUORUM with a replica down')
  or diag($e);
is(value_at($nodes[1], 'quorum'), '700', 'QUORUM read with a replica down: 700');
my ($ret, $stdout, $stderr) = $nodes[1]->psql('postgres',
	"\\set VERBOSITY verbose\nSET widecol.consistency = 'all';\n$incr");
isnt($ret, 0, 'an increment at ALL is refused with a replica down');
like($stderr, qr/ERROR:  WC002: not enough replicas for consistency level ALL/,
	'ALL increment: SQLSTATE WC002');
is(value_at($nodes[0], 'quorum'), '700', 'the refused increment counted nothing');

# a counter update goes alone on a cluster
($ret, $stdout, $stderr) = $nodes[0]->psql('postgres',
	"\\set VERBOSITY verbose\nBEGIN;\n$incr\nINSERT INTO events VALUES (1, 'x');\nCOMMIT;");
like($stderr, qr/counter updates on a cluster go alone/, 'a counter update with another write is refused');
like($stderr, qr/HINT:  Commit counter updates of one table in a transaction of their own/,
	'with a hint');
is(value_at($nodes[0], 'quorum'), '700', 'the refused transaction counted nothing');

# node 2 comes back: ALL reads the sum, and repairs node 2
$nodes[2]->start;
ok(defined wait_up_normal(3, @nodes), 'node 2 is up again');
is(value_at($nodes[2], 'all'), '700', 'node 2 reads 700 at ALL');
ok(poll_until($nodes[2],
		"SET widecol.consistency = one; SELECT count FROM event_aggregations "
		  . "WHERE event_type = 'click' AND date = '2026-01-01'", '700'),
	'node 2 holds 700 itself (read at ONE)');

$_->stop for @nodes;
done_testing();
