#
# 036_txn_crash.pl - a transaction's widecol writes are one commit-log
# record, sent at COMMIT: the instance is killed (SIGKILL of the postmaster
# and all its children, widecol node and backend included, or an immediate
# stop) at a random point of a large transaction (its INSERT or its COMMIT),
# or of a large statement outside a transaction block (an INSERT ... SELECT,
# a COPY FROM a file), several times; after each restart every transaction
# and statement is complete or absent, never partial.  Prints the row count
# of every one.
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
use Time::HiRes qw(usleep time);
use WidecolNode;

my $rows = 100000;    # per transaction: about 12 MB of writes, one record
my $rounds = 8;

my $node = widecol_node('txn_crash', conf => "widecol.commitlog_sync = batch\n");
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE tx (tag int, i int, v text) SERVER ks
	  OPTIONS (primary_key '((tag), i)');});

# one transaction: tag's rows, written by one INSERT, committed at the end
sub txn_sql
{
	my ($tag) = @_;
	return "BEGIN; INSERT INTO tx SELECT $tag, g, repeat('v', 80) || g "
	  . "FROM generate_series(1, $rows) g;";
}

# the same rows by one statement outside a transaction block: an INSERT ...
# SELECT, or a COPY of a file written here
sub statement_sql
{
	my ($tag, $kind) = @_;
	return "INSERT INTO tx SELECT $tag, g, repeat('v', 80) || g "
	  . "FROM generate_series(1, $rows) g;"
	  if $kind eq 'insert';
	my $file = $node->basedir . "/tx_$tag.csv";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh "$tag,$_," . ('v' x 80) . "$_\n" for 1 .. $rows;
	close $fh;
	return "COPY tx FROM '$file' (FORMAT csv);";
}

sub count_of
{
	my ($tag) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM tx WHERE tag = $tag");
}

# how long a transaction takes, measured on one that is left to finish
my $t0 = time;
$node->safe_psql('postgres', txn_sql(0) . ' COMMIT;');
my $t_txn = time - $t0;
note sprintf('a transaction of %d rows takes %.2f s', $rows, $t_txn);
is(count_of(0), $rows, 'a committed transaction is complete');

# the processes whose parent is pid
sub children
{
	my ($ppid) = @_;
	my @kids;

	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh>;
		close $fh;
		next unless defined $line && $line =~ /^(\d+) \(.*\) \S+ (\d+) /;
		push @kids, $1 if $2 == $ppid;
	}
	return @kids;
}

my (%complete, %absent);
for my $round (1 .. $rounds)
{
	my ($in, $out, $err) = ('', '', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
		'<', \$in, '>', \$out, '2>', \$err);
	my $node_pid = $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');

	# a transaction, an INSERT or a COPY outside a transaction block, in turn
	my $kind = (qw(transaction insert copy))[ ($round - 1) % 3 ];
	my $sql =
	  $kind eq 'transaction'
	  ? txn_sql($round) . ' COMMIT;'
	  : statement_sql($round, $kind);

	$in .= "SELECT pg_backend_pid();\n";
	$h->pump until $out =~ /^\d+$/m || !$h->pumpable;
	# the whole transaction or statement, then the crash at a random point
	# of the time it takes: during the INSERT (nothing may be stored yet)
	# or the COMMIT
	$in .= "$sql\n";
	$h->pump_nb;
	usleep(int(rand($t_txn * 1.2) * 1_000_000));
	my $how = $round % 2 ? 'SIGKILL' : 'immediate stop';
	my @pids;
	if ($how eq 'SIGKILL')
	{
		# the whole instance at once: every child of the postmaster, then it
		@pids = (children($node->{_pid}), $node->{_pid});
		kill 'KILL', children($node->{_pid});
		$node->kill9;
	}
	else
	{
		@pids = ($node_pid);
		$node->stop('immediate');
	}
	$h->finish;
	# every process of the instance gone before it starts again
	for my $pid (grep { defined && $_ > 0 } @pids)
	{
		usleep(50_000) while kill(0, $pid);
	}
	$node->start;
	ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
		"round $round: node running after $how");
	my $n = count_of($round);
	diag("round $round ($how during the $kind): $kind $round has $n of $rows rows");
	ok($n == 0 || $n == $rows, "round $round: $kind complete or absent ($n rows)");
	$n == 0 ? $absent{$round} = 1 : ($complete{$round} = 1);
}
diag(sprintf('%d transactions or statements complete, %d absent after %d crashes during them',
		scalar(keys %complete), scalar(keys %absent), $rounds));
is(count_of(0), $rows, 'the transaction committed before the crashes is still complete');

$node->stop;
done_testing();
