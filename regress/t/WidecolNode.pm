#
# WidecolNode.pm - the instance most TAP tests of widecol start with.
#
# widecol_node($name, conf => $extra) makes a PostgreSQL::Test::Cluster
# named $name with widecol in shared_preload_libraries (plus the
# postgresql.conf lines in $extra), starts it, creates the extension, waits
# until the widecol node runs (one passing test, "node running") and
# creates the keyspace "ks" (SimpleStrategy, replication factor 1).  Tests
# load it from their own directory:
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
use Test::More;

our @EXPORT = qw(widecol_node);

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

1;
