#
# WidecolCluster.pm - several instances on 127.0.0.1 that form a widecol
# cluster, for the TAP tests of replicated reads and writes.
#
#   my @nodes = widecol_cluster(3, dcs => ['dc1', 'dc1', 'dc2'], conf => $extra);
#
# makes the instances (internode ports from get_free_port, the first one
# the seed, a shared cluster secret of mode 0600, failure detection at
# phi 5), starts them one at a time, creates the extension and waits until
# every started node sees all of them up and normal.  Helpers:
#
#   wait_up_normal($want, @nodes)   seconds until each sees $want nodes up
#   on_every(\@nodes, $sql)         run $sql on each node (the same keyspace
#                                   and table everywhere: table ids derive
#                                   from keyspace and table name)
#   kill_node($node)                SIGKILL its widecol node and postmaster
#   wait_down($node, $victim)       until $node shows $victim down
#   poll_until($node, $sql, $want)  until $sql (settings allowed) gives $want
#   start_writer($node, $name, $first_key, $value)
#                                   fork a QUORUM writer of table kv
#   stop_writers(@writers)          stop them; the keys they saw acknowledged
#
# Copyright (c) 2026, widecol developers
#
package WidecolCluster;

use strict;
use warnings;

use Exporter 'import';
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT =
  qw(widecol_cluster wait_up_normal on_every create_on_first kill_node wait_down node_address
  poll_until start_writer stop_writers);

sub widecol_cluster
{
	my ($n, %opts) = @_;
	my $secret = "$PostgreSQL::Test::Utils::tmp_check/cluster_secret";
	my @ports = map { PostgreSQL::Test::Cluster::get_free_port() } 1 .. $n;
	my @nodes;

	open(my $fh, '>', $secret) or die "cannot write $secret: $!";
	print $fh "a secret shared by the test cluster\n";
	close($fh);
	chmod(0600, $secret) or die "chmod $secret: $!";
	for my $i (0 .. $n - 1)
	{
		my $node = PostgreSQL::Test::Cluster->new("member$i");
		my $dc = $opts{dcs} ? $opts{dcs}[$i] : 'dc1';

		$node->init;
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'widecol'
widecol.cluster_name = 'tap'
widecol.listen_address = '127.0.0.1'
widecol.port = $ports[$i]
widecol.seeds = '127.0.0.1:$ports[0]'
widecol.cluster_secret_file = '$secret'
widecol.phi_convict_threshold = 5
widecol.datacenter = '$dc'
} . ($opts{conf} // ''));
		push @nodes, $node;
	}
	for my $i (0 .. $n - 1)
	{
		$nodes[$i]->start;
		$nodes[$i]->safe_psql('postgres', 'CREATE EXTENSION widecol');
		ok(defined wait_up_normal($i + 1, @nodes[ 0 .. $i ]), "node $i joined");
	}
	return @nodes;
}

sub wait_up_normal
{
	my ($want, @on) = @_;
	my $t0 = time();

	for my $n (@on)
	{
		return undef unless $n->poll_query_until('postgres', qq{
			SELECT count(*) FILTER (WHERE status = 'up' AND state = 'normal') = $want
			FROM widecol.nodes});
	}
	return time() - $t0;
}

sub on_every
{
	my ($nodes, $sql) = @_;

	$_->safe_psql('postgres', $sql) for @$nodes;
}

# Run the DDL $sql on the first node only and wait (60 s at most) until the
# cluster schema has brought every table of @$tables to every node's
# catalog.
sub create_on_first
{
	my ($nodes, $sql, $tables) = @_;
	my $list = join(', ', map { "'$_'" } @$tables);

	$nodes->[0]->safe_psql('postgres', $sql);
	for my $node (@$nodes)
	{
		$node->poll_query_until('postgres',
			"SELECT count(*) = " . scalar(@$tables)
			  . " FROM pg_class WHERE relname IN ($list)")
		  or die $node->name . " did not get the tables $list";
	}
}

# The internode address of $node, as widecol.nodes shows it.
sub node_address
{
	my ($node) = @_;

	return $node->safe_psql('postgres',
		q{SELECT address FROM widecol.nodes WHERE sql_address LIKE '%:} . $node->port . q{'});
}

sub kill_node
{
	my ($node) = @_;
	my $wpid = $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');

	kill 'KILL', $wpid;
	$node->kill9;
}

sub wait_down
{
	my ($node, $addr) = @_;

	return $node->poll_query_until('postgres',
		"SELECT status = 'down' FROM widecol.nodes WHERE address = '$addr'");
}

# Run $sql (SET commands may come first) every 0.5 s until its output is $want (180 s at most).
sub poll_until
{
	my ($node, $sql, $want) = @_;

	for (1 .. 360)
	{
		my ($ret, $out) = $node->psql('postgres', $sql);
		return 1 if $ret == 0 && $out eq $want;
		sleep(0.5);
	}
	return 0;
}

# Fork a writer that inserts ($first_key + i, '$value') for i = 0, 1, ... into
# the table kv (k bigint, v text) on $node at QUORUM, one statement per psql,
# until stop_writers.  Each acknowledged key is a line of
# tmp_check/writer_$name.acked; a refused or failed write (a psql that died
# on a killed server included: that never dies in the writer, which would
# run the test's END blocks and stop every node) is counted and followed by
# a 0.2 s pause.  Returns the writer, for stop_writers.
sub start_writer
{
	my ($node, $name, $first_key, $value) = @_;
	my $base = "$PostgreSQL::Test::Utils::tmp_check/writer_$name";
	my $pid;

	unlink("$base.stop", "$base.failed");
	$pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my ($i, $failed) = (0, 0);

		open(my $log, '>', "$base.acked") or die "cannot write $base.acked: $!";
		$log->autoflush(1);
		while (!-e "$base.stop")
		{
			my $k = $first_key + $i++;
			my $ret = eval {
				$node->psql('postgres',
					"SET widecol.consistency = quorum; INSERT INTO kv VALUES ($k, '$value')",
					timeout => 30);
			} // 1;

			if ($ret == 0) { print $log "$k\n"; }
			else { $failed++; sleep(0.2); }
		}
		close($log);
		if (open(my $f, '>', "$base.failed"))
		{
			print $f "$failed\n";
			close($f);
		}
		POSIX::_exit(0);    # not exit: the END blocks would stop the nodes
	}
	return { pid => $pid, base => $base };
}

# Stop the writers of start_writer and wait for them.  Returns a hash
# reference whose keys are every key a writer saw acknowledged, and the
# number of writes that failed.
sub stop_writers
{
	my (@writers) = @_;
	my (%acked, $failed);

	for my $w (@writers)
	{
		open(my $s, '>', "$w->{base}.stop") or die "cannot write $w->{base}.stop: $!";
		close($s);
	}
	$failed = 0;
	for my $w (@writers)
	{
		waitpid($w->{pid}, 0);
		open(my $f, '<', "$w->{base}.acked") or die "cannot read $w->{base}.acked: $!";
		while (my $k = <$f>)
		{
			chomp $k;
			$acked{$k} = 1;
		}
		close($f);
		if (open($f, '<', "$w->{base}.failed"))
		{
			my $n = <$f>;
			$failed += $n // 0;
			close($f);
		}
	}
	return (\%acked, $failed);
}

1;
