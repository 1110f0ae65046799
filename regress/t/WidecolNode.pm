#
# WidecolNode.pm - the instance most TAP tests of widecol start with.
#
# widecol_node($name, conf => $extra) makes a PostgreSQL::Test::Cluster
# named $name with widecol in shared_preload_libraries (plus the
# postgresql.conf lines in $extra), starts it, creates the extension, waits
# until the widecol node runs (one passing test, "node running") and
# creates the keyspace "ks" (SimpleStrategy, replication factor 1).
#
# widecol_cluster_nodes($prefix, $n) makes (but does not start) $n
# instances named "$prefix0".. on 127.0.0.1 that form one cluster "tap":
# free internode ports, the first one the seed, a shared secret file,
# widecol.phi_convict_threshold 5.  Start them one at a time.  Tests load
# it from their own directory:
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use WidecolNode;
#
# Copyright (c) 2026, widecol developers
#
package WidecolNode;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(widecol_node widecol_cluster_nodes);

sub widecol_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'widecol'\n" . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
	ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
		'node running');
	$node->safe_psql(
		'postgres', q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);});
	return $node;
}

sub widecol_cluster_nodes
{
	my ($prefix, $n) = @_;
	my $secret = "$PostgreSQL::Test::Utils::tmp_check/cluster_secret";
	open(my $fh, '>', $secret) or die "cannot write $secret: $!";
	print $fh "a secret shared by the test cluster\n";
	close($fh);
	chmod(0600, $secret) or die "chmod $secret: $!";

	my @ports = map { PostgreSQL::Test::Cluster::get_free_port() } 1 .. $n;
	my @nodes;
	for my $i (0 .. $n - 1)
	{
		my $node = PostgreSQL::Test::Cluster->new("$prefix$i");
		$node->init;
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'widecol'
widecol.cluster_name = 'tap'
widecol.listen_address = '127.0.0.1'
widecol.port = $ports[$i]
widecol.seeds = '127.0.0.1:$ports[0]'
widecol.cluster_secret_file = '$secret'
widecol.phi_convict_threshold = 5
});
		push @nodes, $node;
	}
	return @nodes;
}

1;
