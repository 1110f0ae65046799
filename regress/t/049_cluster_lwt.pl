#
# 049_cluster_lwt.pl - lightweight transactions: 8 sessions race
# INSERT ... ON CONFLICT DO NOTHING (CQL IF NOT EXISTS) on the same 50
# keys, on one node (its partition lock) and over two coordinators of
# three instances (replication factor 3, Paxos), and every key has exactly
# one winner, whose value is the one stored; with one node killed a new
# key still gets its one winner at SERIAL; with two killed the insert
# fails with the unavailable error.
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
use WidecolNode;

my $script = "$PostgreSQL::Test::Utils::tmp_check/049_race.sql";
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh q{\set k random(1, 50)
SELECT try_reg(:k, 'n' || (:who * 100 + :client_id));
};
close($fh);

# 8 sessions spread over @$coords race 50 inserts each on keys 1..50; every
# coordinator notes the inserts it saw applied in a local heap table
sub race
{
	my ($coords, $reader, $what) = @_;
	my $per = 8 / scalar(@$coords);
	my @runs;

	# an insert whose outcome is unknown (a timeout or contention error) is noted as such
	$_->safe_psql('postgres', q{
		CREATE TABLE wins (k int, owner text);
		CREATE TABLE unknown (k int, owner text);
		CREATE FUNCTION try_reg(key int, who text) RETURNS void LANGUAGE plpgsql AS $$
		DECLARE got text;
		BEGIN
			INSERT INTO reg VALUES (key, who) ON CONFLICT DO NOTHING RETURNING owner INTO got;
			IF got IS NOT NULL THEN
				INSERT INTO wins VALUES (key, got);
			END IF;
		EXCEPTION WHEN SQLSTATE 'WC003' OR SQLSTATE 'WC010' THEN
			INSERT INTO unknown VALUES (key, who);
		END $$;}) for @$coords;
	for my $i (0 .. $#$coords)
	{
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[
				'pgbench', '--no-vacuum', "--client=$per", "--jobs=$per", '--transactions=50',
				'--max-tries=1', '-D', "who=$i", '-f', $script, $coords->[$i]->connstr('postgres')
			],
			'>', \$out, '2>', \$err);
		push @runs, [ $h, \$out, \$err ];
	}
	for my $r (@runs)
	{
		$r->[0]->finish;
		like(${ $r->[1] }, qr{number of transactions actually processed: (\d+)/\1},
			"$what: every racing insert ended") or diag(${ $r->[2] });
	}
	my (@wins, @unknown);
	push @wins, split(/\n/, $_->safe_psql('postgres', "SELECT k || ' ' || owner FROM wins"))
	  for @$coords;
	push @unknown, split(/\n/, $_->safe_psql('postgres', "SELECT k || ' ' || owner FROM unknown"))
	  for @$coords;
	my (%won, %maybe);
	$won{ (split / /)[0] }++ for @wins;
	$maybe{$_} = 1 for @unknown;
	my @twice = grep { $won{$_} > 1 } keys %won;
	is(scalar(@twice), 0, "$what: no key was won twice") or diag("won more than once: @twice");
	my @stored = split(/\n/, $reader->safe_psql('postgres',
		"SET widecol.consistency = serial; SELECT k || ' ' || owner FROM reg"));
	my %winner = map { (split / /)[0] => $_ } @wins;
	# every key stored holds its winner's value, or (no winner) one of unknown outcome
	my @wrong = grep { $winner{ (split / /)[0] } ? $winner{ (split / /)[0] } ne $_ : !$maybe{$_} } @stored;
	is(scalar(@wrong), 0, "$what: each key holds its winner's value") or diag("wrong: @wrong");
	my %is_stored = map { $_ => 1 } @stored;
	my @lost = grep { !$is_stored{$_} } @wins;
	is(scalar(@lost), 0, "$what: every winner's row is stored") or diag("lost: @lost");
	note "$what: " . scalar(@stored) . ' keys, ' . scalar(@wins) . ' winners, '
	  . scalar(@unknown) . ' of unknown outcome, of 400 inserts';
}

# one node: the node's partition lock serializes them
my $single = widecol_node('lwt_single');
$single->safe_psql('postgres',
	"CREATE FOREIGN TABLE reg (k int, owner text) SERVER ks OPTIONS (primary_key 'k')");
race([$single], $single, 'one node');
$single->stop;

# a faster failure detector: the test waits for two nodes to be seen down
my @nodes = widecol_cluster(3, conf => "widecol.phi_convict_threshold = 3\n");
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE reg (k int, owner text) SERVER ks OPTIONS (primary_key 'k');},
	['reg']);

# Paxos: 4 sessions on node 0 and 4 on node 1, read on node 2
race([ @nodes[ 0, 1 ] ], $nodes[2], 'three nodes');

# one node down: SERIAL still has a quorum
my $addr2 = node_address($nodes[2]);
kill_node($nodes[2]);
ok(wait_down($_, $addr2), 'node 2 is seen down') for @nodes[ 0, 1 ];
is($nodes[0]->safe_psql('postgres',
	"INSERT INTO reg VALUES (100, 'first') ON CONFLICT DO NOTHING RETURNING owner"),
	'first', 'IF NOT EXISTS applies with one replica down');
is($nodes[1]->safe_psql('postgres',
	"INSERT INTO reg VALUES (100, 'second') ON CONFLICT DO NOTHING RETURNING owner"),
	'', 'and a second one of the same key does not');
is($nodes[1]->safe_psql('postgres', "SET widecol.consistency = serial; SELECT owner FROM reg WHERE k = 100"),
	'first', 'the first one is stored (a SERIAL read)');

# two nodes down: no quorum of replicas for SERIAL
my $addr1 = node_address($nodes[1]);
kill_node($nodes[1]);
ok(wait_down($nodes[0], $addr1), 'node 1 is seen down');
my ($ret, $out, $err) = $nodes[0]->psql('postgres',
	"\\set VERBOSITY verbose\nINSERT INTO reg VALUES (101, 'x') ON CONFLICT DO NOTHING;");
isnt($ret, 0, 'IF NOT EXISTS refused with two replicas down');
like($err, qr/ERROR:  WC002: not enough replicas for consistency level SERIAL/, 'SQLSTATE WC002 at SERIAL');
like($err, qr/DETAIL:  consistency SERIAL needs 2 replicas, 1 alive/, 'detail: needed and alive');
like($err, qr/HINT:  /, 'with a hint');

$nodes[0]->stop;
done_testing();
