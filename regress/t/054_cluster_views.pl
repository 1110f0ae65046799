#
# 054_cluster_views.pl - materialized views on a cluster of three instances
# (replication factor 3): each base replica sends the view updates of its
# base writes to its paired view replica (Cassandra's pairing), so the view
# read at QUORUM equals the base read by the view's key.
#
# Rows written before the view are backfilled by every node from its own
# base data; then writes through every node, updates that move rows to
# another view key, and deletes; then node 2 is stopped, written around
# (its view updates wait as hints), started again, and the view equals the
# base on node 2 too, at ALL.  Writes to the view and DROP FOREIGN TABLE of
# it are refused with hints.  Seed 002's solution 1 (a view by state over
# the latest events by device) gives the seed's output on the cluster, and
# so does its solution 2 (a secondary index on state of the same table) on
# every node.
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

my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE latest (device int, state text, ts bigint)
	  SERVER ks OPTIONS (primary_key 'device');},
	[ 'latest' ]);

# rows before the view: the backfill brings them
$nodes[0]->safe_psql('postgres', q{SET widecol.consistency = 'all';
	INSERT INTO latest SELECT i, 's' || (i % 3), i FROM generate_series(1, 30) i;});
create_on_first(\@nodes, q{
	SELECT widecol.create_materialized_view('by_state', 'latest', '((state), device)');},
	[ 'by_state' ]);

my $view = q{SET widecol.consistency = 'quorum';
	SELECT coalesce(string_agg(state || ':' || device || ':' || ts, ',' ORDER BY state, device), '')
	FROM by_state;};
my $base = q{SET widecol.consistency = 'quorum';
	SELECT coalesce(string_agg(state || ':' || device || ':' || ts, ',' ORDER BY state, device)
	  FILTER (WHERE state IS NOT NULL), '')
	FROM latest;};

sub base_of
{
	my ($node) = @_;
	return $node->safe_psql('postgres', $base);
}

ok(poll_until($nodes[1], $view, base_of($nodes[1])),
	'the backfilled view equals the base on node 1');

# writes through every node: inserts, key-moving updates, deletes
for my $i (0 .. 2)
{
	$nodes[$i]->safe_psql('postgres', qq{
		INSERT INTO latest SELECT i, 't' || (i % 4), i * 10 + $i FROM generate_series(31 + 20 * $i, 50 + 20 * $i) i;
		UPDATE latest SET state = 'moved$i', ts = 1000 + $i WHERE device = @{[ 3 + $i ]};
		UPDATE latest SET state = 's9' WHERE device = @{[ 10 + $i ]};
		DELETE FROM latest WHERE device = @{[ 20 + $i ]};
		UPDATE latest SET state = NULL WHERE device = @{[ 25 + $i ]};});
}
for my $i (0 .. 2)
{
	ok(poll_until($nodes[$i], $view, base_of($nodes[$i])),
		"after writes through every node the view equals the base on node $i");
}

# node 2 down: its view updates wait as hints
$nodes[2]->stop;
$nodes[0]->safe_psql('postgres', q{
	UPDATE latest SET state = 'while_down' WHERE device IN (1, 2, 40);
	DELETE FROM latest WHERE device IN (5, 60);
	INSERT INTO latest VALUES (500, 'new', 5);});
ok(poll_until($nodes[1], $view, base_of($nodes[1])),
	'with node 2 down the view equals the base at QUORUM');
$nodes[2]->start;
ok(defined wait_up_normal(3, @nodes), 'node 2 is back');
my $all_view = $view =~ s/'quorum'/'all'/r;
ok(poll_until($nodes[2], $all_view, base_of($nodes[1])),
	'after the restart the view at ALL on node 2 equals the base');

# the view is read, not written
my ($ret, $out, $err) = $nodes[1]->psql('postgres',
	q{INSERT INTO by_state VALUES (1, 'x', 1)});
like($err, qr/HINT:.*base table/, 'writes to the view are refused with a hint');
($ret, $out, $err) = $nodes[0]->psql('postgres', q{DROP FOREIGN TABLE by_state});
like($err, qr/HINT:.*drop_materialized_view/, 'DROP FOREIGN TABLE of the view is refused');

# drop_materialized_view on node 0: gone on every node, the base written on
$nodes[0]->safe_psql('postgres', q{SELECT widecol.drop_materialized_view('by_state')});
ok( poll_until(
		$nodes[2], q{SELECT count(*) FROM pg_class WHERE relname = 'by_state'}, '0'),
	'the dropped view is gone on node 2');
$nodes[2]->safe_psql('postgres', q{INSERT INTO latest VALUES (501, 'after_drop', 1)});
is($nodes[1]->safe_psql('postgres',
		q{SET widecol.consistency = 'quorum'; SELECT state FROM latest WHERE device = 501}),
	'after_drop', 'the base is written after its view was dropped');

# seed 002, solution 1: the latest event of each device, by state
create_on_first(\@nodes, q{
	CREATE FOREIGN TABLE latest_events_by_device (device_id uuid, "timestamp" timestamp,
	    state text, value text) SERVER ks OPTIONS (primary_key '((device_id))');
	SELECT widecol.create_materialized_view('latest_events_by_state', 'latest_events_by_device',
	    '((state), device_id)', "where" => 'state IS NOT NULL AND device_id IS NOT NULL');},
	[ 'latest_events_by_device', 'latest_events_by_state' ]);
my @events = (
	q{'11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'on', 'event 1-1'},
	q{'11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'off', 'event 1-2'},
	q{'11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'on', 'event 1-3'},
	q{'22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'off', 'event 2-1'},
	q{'33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'off', 'event 3-1'});
for my $i (0 .. $#events)
{
	$nodes[ $i % 3 ]->safe_psql('postgres',
		"INSERT INTO latest_events_by_device (device_id, \"timestamp\", state, value) "
		  . "VALUES ($events[$i])");
}
my $seed_q = q{SET widecol.consistency = 'quorum';
	SELECT state, device_id, to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS.US') || '+0000', value
	FROM latest_events_by_state WHERE state = '%s';};
ok( poll_until(
		$nodes[2], sprintf($seed_q, 'on'),
		'on|11111111-aaaa-bbbb-cccc-12345678abcd|2021-01-01 03:33:33.000000+0000|event 1-3'),
	'seed 002 solution 1: the latest events with state on');
ok( poll_until(
		$nodes[1], sprintf($seed_q, 'off'),
		"off|22222222-aaaa-bbbb-cccc-12345678abcd|2021-02-02 01:11:11.000000+0000|event 2-1\n"
		  . 'off|33333333-aaaa-bbbb-cccc-12345678abcd|2021-03-03 01:11:11.000000+0000|event 3-1'),
	'seed 002 solution 1: the latest events with state off');

# seed 002, solution 2: a secondary index on state of the same table, read
# on every node through the index (allow_filtering is off); the seed lists
# 'off' as 3-1, 2-1
$nodes[1]->safe_psql('postgres', q{SELECT widecol.create_index('latest_events_by_device', 'state',
	'latest_events_by_state_2i')});
my $seed2_q = q{SET widecol.consistency = 'quorum';
	SELECT state, device_id, to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS.US') || '+0000', value
	FROM latest_events_by_device WHERE state = '%s' ORDER BY device_id DESC;};
for my $i (0 .. 2)
{
	ok( poll_until(
			$nodes[$i], sprintf($seed2_q, 'on'),
			'on|11111111-aaaa-bbbb-cccc-12345678abcd|2021-01-01 03:33:33.000000+0000|event 1-3'),
		"seed 002 solution 2 on node $i: the latest events with state on");
	is( $nodes[$i]->safe_psql('postgres', sprintf($seed2_q, 'off')),
		"off|33333333-aaaa-bbbb-cccc-12345678abcd|2021-03-03 01:11:11.000000+0000|event 3-1\n"
		  . 'off|22222222-aaaa-bbbb-cccc-12345678abcd|2021-02-02 01:11:11.000000+0000|event 2-1',
		"seed 002 solution 2 on node $i: the latest events with state off");
}
like($nodes[2]->safe_psql('postgres', sprintf('EXPLAIN (COSTS OFF) ' . ($seed2_q =~ s/^.*?;\s*//sr), 'on')),
	qr/secondary index latest_events_by_state_2i: state = 'on'/, 'seed 002 solution 2: EXPLAIN names the index');

$_->stop for @nodes;
done_testing();
