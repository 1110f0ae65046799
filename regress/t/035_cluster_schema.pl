#
# 035_cluster_schema.pl - the schema is cluster-wide: three instances on
# 127.0.0.1 form a cluster; CREATE SERVER (replication factor 3) and
# CREATE FOREIGN TABLE on node 0 appear on nodes 1 and 2, in the database
# of the same name, with the same table id, usable there at once; the
# table belongs to the role of the same name where it exists and to the
# extension owner where it does not (logged); ALTER FOREIGN TABLE ADD
# COLUMN, OWNER TO and DROP FOREIGN TABLE propagate, renames are refused; a CREATE while a node is killed
# (-9, not yet convicted) commits after the bounded agreement wait with a
# WARNING naming that node, which catches up when it starts again; the
# schema versions agree in widecol.nodes.  Prints the agreement times.
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

my @nodes = widecol_cluster_nodes('schema', 3);

sub wait_up_normal
{
	my ($want, @on) = @_;
	for my $n (@on)
	{
		return 0 unless $n->poll_query_until('postgres', qq{
			SELECT count(*) FILTER (WHERE status = 'up' AND state = 'normal') = $want
			FROM widecol.nodes});
	}
	return 1;
}

# Seconds until $sql returns 't' on every given node (undef on timeout).
sub wait_all
{
	my ($sql, @on) = @_;
	my $t0 = time();
	for my $n (@on)
	{
		return undef unless $n->poll_query_until('postgres', $sql);
	}
	return time() - $t0;
}

sub has_table
{
	my ($name) = @_;
	return qq{SELECT count(*) = 1 FROM pg_class WHERE relname = '$name' AND relkind = 'f'};
}

for my $i (0 .. 2)
{
	$nodes[$i]->start;
	$nodes[$i]->safe_psql('postgres', 'CREATE EXTENSION widecol');
	ok(wait_up_normal($i + 1, @nodes[ 0 .. $i ]), "node $i joined");
}
# alice exists on nodes 0 and 1, not on node 2
$_->safe_psql('postgres', 'CREATE ROLE alice; GRANT CREATE ON SCHEMA public TO alice')
  for @nodes[ 0 .. 1 ];

# CREATE SERVER (RF 3) and CREATE FOREIGN TABLE by alice on node 0
my $t0 = time();
my ($rc, $out, $err) = $nodes[0]->psql('postgres', q{
	CREATE SERVER app FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	GRANT USAGE ON FOREIGN SERVER app TO alice;
	SET ROLE alice;
	CREATE FOREIGN TABLE readings (id bigint, v text) SERVER app
	  OPTIONS (primary_key '(id)');
	RESET ROLE;});
is($rc, 0, 'CREATE SERVER and CREATE FOREIGN TABLE on node 0');
unlike($err, qr/not yet agreed/, 'the DDL saw every node agree');
diag(sprintf("CREATE SERVER + CREATE FOREIGN TABLE committed (agreement included) in %.2f s",
	time() - $t0));
my $took = wait_all(has_table('readings'), @nodes[ 1 .. 2 ]);
ok(defined $took, 'the table appears on nodes 1 and 2');
diag(sprintf("table materialized on nodes 1 and 2 within %.2f s of the commit", $took // -1));

is($nodes[1]->safe_psql('postgres', q{SELECT srvoptions::text FROM pg_foreign_server WHERE srvname = 'app'}),
	q[{"replication={'class': 'SimpleStrategy', 'replication_factor': 3}"}],
	'the server carries the replication on node 1');
my @ids = map {
	$_->safe_psql('postgres', q{SELECT table_id FROM widecol.cluster_schema() WHERE table_name = 'readings'})
} @nodes;
ok($ids[0] > 0, "cluster table id $ids[0]");
is($ids[1], $ids[0], 'same table id in node 1\'s cluster schema');
is($ids[2], $ids[0], 'same table id in node 2\'s cluster schema');
for my $i (1 .. 2)
{
	is($nodes[$i]->safe_psql('postgres', q{
		SELECT option_value FROM pg_options_to_table((SELECT ftoptions FROM pg_foreign_table
		  WHERE ftrelid = 'readings'::regclass)) WHERE option_name = 'table_id'}),
		$ids[0], "node ${i}'s relation has the cluster's table id");
}

# owners: alice where she exists, the extension owner (logged) where not
is($nodes[1]->safe_psql('postgres', q{SELECT relowner::regrole FROM pg_class WHERE relname = 'readings'}),
	'alice', 'node 1: the table belongs to alice');
my $extowner = $nodes[2]->safe_psql('postgres',
	q{SELECT extowner::regrole FROM pg_extension WHERE extname = 'widecol'});
is($nodes[2]->safe_psql('postgres', q{SELECT relowner::regrole FROM pg_class WHERE relname = 'readings'}),
	$extowner, 'node 2: the table belongs to the extension owner');
ok($nodes[2]->wait_for_log(qr/role "alice" does not exist on this node/), 'node 2 logs the owner it chose');

# usable on every node through its engine
for my $i (0 .. 2)
{
	$nodes[$i]->safe_psql('postgres', "INSERT INTO readings VALUES ($i + 10, 'from $i')");
	is($nodes[$i]->safe_psql('postgres', "SELECT v FROM readings WHERE id = $i + 10"),
		"from $i", "INSERT and SELECT on node $i");
}

# ALTER FOREIGN TABLE ADD COLUMN propagates
$nodes[0]->safe_psql('postgres', 'ALTER FOREIGN TABLE readings ADD COLUMN w int');
$took = wait_all(q{SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'readings'::regclass
	AND attname = 'w' AND NOT attisdropped}, @nodes[ 1 .. 2 ]);
ok(defined $took, 'ADD COLUMN reaches nodes 1 and 2');
diag(sprintf("ADD COLUMN materialized within %.2f s", $took // -1));
$nodes[2]->safe_psql('postgres', "INSERT INTO readings VALUES (22, 'w', 7)");
is($nodes[2]->safe_psql('postgres', 'SELECT w FROM readings WHERE id = 22'), '7',
	'the new column is usable on node 2');

# an owner change follows the role name; renames are refused in a cluster
$_->safe_psql('postgres', 'CREATE ROLE bob') for @nodes[ 0 .. 1 ];
$nodes[0]->safe_psql('postgres', 'ALTER FOREIGN TABLE readings OWNER TO bob');
ok(defined wait_all(q{SELECT relowner::regrole::text = 'bob' FROM pg_class WHERE relname = 'readings'},
	$nodes[1]), 'ALTER ... OWNER TO reaches node 1');
($rc, $out, $err) = $nodes[0]->psql('postgres', 'ALTER FOREIGN TABLE readings RENAME TO renamed');
like($err, qr/cannot rename widecol foreign table "readings" in a cluster/, 'a table rename is refused');
($rc, $out, $err) = $nodes[0]->psql('postgres', 'ALTER SERVER app RENAME TO app2');
like($err, qr/cannot rename widecol server "app" in a cluster/, 'a server rename is refused');

# a table of a database that node 1 lacks: its keyspace's server appears
# there, the table does not, and the log says why
$nodes[0]->safe_psql('postgres', 'CREATE DATABASE appdb');
$nodes[0]->safe_psql('appdb', q{CREATE EXTENSION widecol;
	CREATE SERVER other FOREIGN DATA WRAPPER widecol;
	CREATE FOREIGN TABLE only_here (k int) SERVER other OPTIONS (primary_key '(k)');});
ok($nodes[1]->wait_for_log(qr/database "appdb" of table other\.only_here does not exist on this node/),
	'node 1 logs the table whose database it lacks');
ok(defined wait_all(q{SELECT count(*) = 1 FROM pg_foreign_server WHERE srvname = 'other'}, $nodes[1]),
	'the keyspace of that table is a server on node 1');

# a node stopped during a CREATE catches up when it returns
# (killed -9: the others still count it live while the failure detector
# has not convicted it, so the DDL waits for it, bounded, and says so)
my $addr2 = $nodes[2]->safe_psql('postgres',
	q{SELECT address FROM widecol.nodes WHERE sql_address LIKE '%:} . $nodes[2]->port . q{'});
my $wpid = $nodes[2]->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');
kill 'KILL', $wpid;
$nodes[2]->kill9;
$t0 = time();
($rc, $out, $err) = $nodes[0]->psql('postgres',
	q{CREATE FOREIGN TABLE later (k text, v text) SERVER app OPTIONS (primary_key '(k)')});
my $waited = time() - $t0;
is($rc, 0, 'CREATE FOREIGN TABLE commits while node 2 is unreachable');
like($err, qr/WARNING:  the widecol schema change is not yet agreed by 1 node\(s\) after \d+ ms: \Q$addr2\E/,
	'the bounded agreement wait names the node that disagrees');
ok($waited >= 9 && $waited < 30, sprintf('the DDL waited about 10 s (%.1f s)', $waited));
ok(defined wait_all(has_table('later'), $nodes[1]), 'node 1 gets the new table');
$t0 = time();
$nodes[2]->start;
$took = wait_all(has_table('later'), $nodes[2]);
ok(defined $took, 'the restarted node 2 catches up');
diag(sprintf("node 2 caught up within %.2f s of its start", time() - $t0));
$nodes[2]->safe_psql('postgres', q{INSERT INTO later VALUES ('a', 'b')});
is($nodes[2]->safe_psql('postgres', q{SELECT v FROM later WHERE k = 'a'}), 'b',
	'the table made while node 2 was down is usable there');

# DROP FOREIGN TABLE propagates
$nodes[1]->safe_psql('postgres', 'DROP FOREIGN TABLE readings');
$took = wait_all(q{SELECT count(*) = 0 FROM pg_class WHERE relname = 'readings'}, @nodes[ 0, 2 ]);
ok(defined $took, 'DROP on node 1 reaches nodes 0 and 2');
diag(sprintf("DROP materialized within %.2f s", $took // -1));

# the versions agree everywhere
ok(defined wait_all(q{SELECT count(DISTINCT schema_version) = 1 AND count(*) = 3
	AND min(length(schema_version)) = 32 FROM widecol.nodes}, @nodes),
	'every node shows one schema version for all three');
my $v = $nodes[0]->safe_psql('postgres', 'SELECT DISTINCT schema_version FROM widecol.nodes');
is($nodes[1]->safe_psql('postgres', 'SELECT DISTINCT version FROM widecol.cluster_schema()'), $v,
	'the cluster schema of node 1 has the gossiped version');

$_->stop for @nodes;
done_testing();
