#
# 041_cluster_txn.pl - a transaction on a cluster is a logged batch: three
# nodes, RF 3; transactions that write two tables and several partitions
# each are committed on node 0, whose postmaster and widecol node are
# killed (-9) at a random moment of the COMMIT, again and again.  After the
# restarts and the batchlog replay every transaction is all or nothing on
# every node (read at ONE on each node, and at ALL), and the replay shows
# in the server logs.  Prints the counts.
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
use Time::HiRes qw(usleep time sleep);
use WidecolCluster;

my $rows = 4000;     # per table and transaction, in 5 partitions of each table
my $rounds = 5;

# a short write timeout: an entry is replayed 2 s after its write started
my @nodes = widecol_cluster(3,
	conf => "widecol.write_request_timeout = 1000\nwidecol.commitlog_sync = batch\n");
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE ta (tag int, p int, i int, v text) SERVER ks
	  OPTIONS (primary_key '((tag, p), i)');
	CREATE FOREIGN TABLE tb (tag int, p int, i int, v text) SERVER ks
	  OPTIONS (primary_key '((tag, p), i)');},
	[ 'ta', 'tb' ]);
my $coord = $nodes[0];

# transaction $tag: $rows rows in each table, 5 partitions each
sub txn_sql
{
	my ($tag, $end) = @_;
	return "SET widecol.consistency = quorum; BEGIN; "
	  . "INSERT INTO ta SELECT $tag, g % 5, g, repeat('a', 60) || g FROM generate_series(1, $rows) g; "
	  . "INSERT INTO tb SELECT $tag, g % 5, g, repeat('b', 60) || g FROM generate_series(1, $rows) g; "
	  . "$end;";
}

# the time of the statements alone (rolled back), and of the whole transaction
my $t0 = time;
$coord->safe_psql('postgres', txn_sql(0, 'ROLLBACK'));
my $t_stmts = time - $t0;
$t0 = time;
$coord->safe_psql('postgres', txn_sql(0, 'COMMIT'));
my $t_commit = time - $t0 - $t_stmts;
$t_commit = 0.05 if $t_commit < 0.05;
note sprintf('statements take %.2f s, the COMMIT %.2f s', $t_stmts, $t_commit);

for my $round (1 .. $rounds)
{
	my ($in, $out, $err) = ('', '', '');
	my $wpid = $coord->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $coord->connstr('postgres') ],
		'<', \$in, '>', \$out, '2>', \$err);

	$in .= txn_sql($round, 'COMMIT') . "\n";
	$h->pump_nb;
	# somewhere in the COMMIT: batchlog write, mutations or removal
	sleep($t_stmts + rand($t_commit * 1.3));
	my $pmpid = $coord->{_pid};
	kill 'KILL', $wpid;
	$coord->kill9;
	$h->finish;
	# both gone (and reaped by their parents) before the instance starts again
	usleep(50_000) while kill(0, $wpid) || kill(0, $pmpid);
	$coord->start;
	ok(defined wait_up_normal(3, @nodes), "round $round: node 0 back after kill -9 during COMMIT");
}

# every entry replayed (or removed): no batchlog file left on any node
my $left = -1;
for (1 .. 120)
{
	$left = 0;
	for my $node (@nodes)
	{
		my $dir = $node->safe_psql('postgres', 'SELECT data_directory FROM widecol.node_status()');
		my @f = glob("$dir/batchlog/*.batch");
		$left += scalar @f;
	}
	last if $left == 0;
	sleep(0.5);
}
is($left, 0, 'no batchlog entry is left once the replays ran');

# counts of every transaction in both tables, as $node sees them at $cl
sub counts
{
	my ($node, $cl) = @_;
	my %c;

	for my $t ('ta', 'tb')
	{
		my $res = $node->safe_psql('postgres',
			"SET widecol.consistency = '$cl'; SELECT tag, count(*) FROM $t GROUP BY tag");
		for my $line (split /\n/, $res)
		{
			my ($tag, $n) = split /\|/, $line;
			$c{$tag}{$t} = $n;
		}
	}
	return \%c;
}

my @views = map { [ "node $_ at ONE", counts($nodes[$_], 'one') ] } 0 .. 2;
push @views, [ 'node 1 at ALL', counts($nodes[1], 'all') ];
my ($complete, $absent, $bad) = (0, 0, 0);
for my $tag (0 .. $rounds)
{
	my %seen;
	for my $v (@views)
	{
		my ($name, $c) = @$v;
		my ($a, $b) = ($c->{$tag}{ta} // 0, $c->{$tag}{tb} // 0);
		$seen{"$a/$b"} = 1;
		if (!(($a == 0 && $b == 0) || ($a == $rows && $b == $rows)))
		{
			diag("transaction $tag on $name: ta $a, tb $b rows of $rows: partial");
			$bad++;
		}
	}
	my @s = keys %seen;
	$bad++, diag("transaction $tag differs between nodes: @s") if @s != 1;
	$s[0] eq '0/0' ? $absent++ : $complete++;
	diag("transaction $tag: " . join(', ', map { "$_->[0] $_->[1]{$tag}{ta}/$_->[1]{$tag}{tb}" }
		  grep { defined $_->[1]{$tag} } @views));
}
is($bad, 0, 'every transaction is all or nothing, the same on every node');
ok($complete >= 1, 'the transaction committed before the kills is there');

my $replays = 0;
for my $node (@nodes)
{
	my $log = slurp_file($node->logfile);
	$replays += () = $log =~ /batchlog: replayed batch/g;
}
diag(sprintf('%d transactions complete, %d absent after %d kills during COMMIT; %d batchlog replays',
		$complete, $absent, $rounds, $replays));

$_->stop for @nodes;
done_testing();
