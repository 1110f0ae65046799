#
# 020_privileges.pl - an engine table belongs to the database, relation and
# owner that created it.  Another role may not reach it through a foreign
# table of its own, from the same or another database of the instance;
# GRANT/REVOKE on the original relation decide who reads it.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('privileges');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'widecol'\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE DATABASE db1;
	CREATE DATABASE db2;});
for my $db ('db1', 'db2')
{
	$node->safe_psql($db, q{
		CREATE EXTENSION widecol;
		GRANT USAGE ON FOREIGN DATA WRAPPER widecol TO alice, bob;
		GRANT CREATE ON SCHEMA public TO alice, bob;});
}
ok($node->poll_query_until('db1', 'SELECT running FROM widecol.node_status()'),
	'node running');

my $server = q{CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);};
my $table = "(k int, v text) SERVER ks OPTIONS (primary_key '((k))', table_name 'secret')";

# alice's table in db1
$node->safe_psql('db1', qq{
	SET ROLE alice;
	$server
	CREATE FOREIGN TABLE secret $table;
	INSERT INTO secret VALUES (1, 'alice''s secret');});

# Run sql in db as role; return (exit code, stdout, stderr).
sub as_role
{
	my ($db, $role, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($db, "\\set VERBOSITY verbose\nSET ROLE $role;\n$sql",
		stdout => \$out, stderr => \$err);
	return ($rc, $out, $err);
}

# in db2 a superuser's server for the same keyspace, usable by both
$node->safe_psql('db2', qq{$server
	GRANT USAGE ON FOREIGN SERVER ks TO alice, bob;});

# bob, same database: his own server over the same keyspace
my ($rc, $out, $err) = as_role('db1', 'bob', q{CREATE SERVER bobs FOREIGN DATA WRAPPER widecol
	  OPTIONS (keyspace 'ks', replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE stolen (k int, v text) SERVER bobs
	  OPTIONS (primary_key '((k))', table_name 'secret');});
isnt($rc, 0, 'bob cannot attach to alice\'s table in the same database');
like($err, qr/ERROR:  42501: permission denied to attach foreign table "stolen" to widecol table "ks.secret"/,
	'error says permission denied, insufficient_privilege');
like($err, qr/DETAIL:  The engine table belongs to public.secret of database "db1", owned by role "alice"/,
	'detail names the owning relation, database and role');
like($err, qr/HINT:  Only a foreign table whose owner owns public.secret/, 'hint says what to do');

# bob, another database
($rc, $out, $err) = as_role('db2', 'bob', "CREATE FOREIGN TABLE stolen $table;");
isnt($rc, 0, 'bob cannot attach to alice\'s table from another database');
like($err, qr/42501: permission denied to attach/, 'cross-database: insufficient_privilege');

# a relation made before the engine table exists is checked at its first
# access: bob prepares "early" over an engine table alice creates later
my $later = "(k int, v text) SERVER ks OPTIONS (primary_key '((k))', table_name 'later')";
($rc, $out, $err) = as_role('db2', 'bob', "CREATE FOREIGN TABLE early $later;");
is($rc, 0, 'bob defines a foreign table over a table nobody made yet');
as_role('db1', 'alice', "CREATE FOREIGN TABLE later $later; INSERT INTO later VALUES (1, 'alice''s later secret');");
($rc, $out, $err) = as_role('db2', 'bob', 'SELECT * FROM early;');
isnt($rc, 0, 'bob cannot read through it once alice\'s table exists');
unlike($out, qr/secret/, 'no data leaked');
like($err, qr/42501: permission denied to attach foreign table "early" to widecol table "ks.later"/,
	'read refused');
($rc, $out, $err) = as_role('db2', 'bob', "INSERT INTO early VALUES (1, 'overwritten');");
like($err, qr/42501: permission denied to attach/, 'overwrite refused');
($rc, $out, $err) = as_role('db2', 'bob', 'TRUNCATE early;');
like($err, qr/42501: permission denied to attach/, 'TRUNCATE refused');
is($node->safe_psql('db1', 'SELECT v FROM later'), "alice's later secret", 'alice\'s data is intact');
# TRUNCATE keeps the engine table and its owner: bob's relation does not
# become the owner by touching it first afterwards
($rc, $out, $err) = as_role('db1', 'alice', 'TRUNCATE later;');
is($rc, 0, 'alice truncates her table');
($rc, $out, $err) = as_role('db2', 'bob', 'SELECT * FROM early;');
like($err, qr/42501: permission denied to attach foreign table "early"/,
	'after TRUNCATE bob is still refused');
($rc, $out, $err) = as_role('db1', 'alice', "INSERT INTO later VALUES (2, 'new'); SELECT v FROM later;");
is($out, 'new', 'alice writes and reads her truncated table');

# a superuser's attached table cannot be handed to a role without the rights
$node->safe_psql('db2', "CREATE FOREIGN TABLE given $table;");
($rc, $out, $err) = $node->psql('db2', 'ALTER FOREIGN TABLE given OWNER TO bob');
like($err, qr/permission denied to attach foreign table "given"/, 'ALTER OWNER to bob refused');
$node->safe_psql('db2', 'DROP FOREIGN TABLE given');

is($node->safe_psql('db1', 'SELECT v FROM secret'), "alice's secret", 'alice\'s data is intact');

# IMPORT FOREIGN SCHEMA leaves out what bob could not attach
($rc, $out, $err) = as_role('db2', 'bob', 'IMPORT FOREIGN SCHEMA ks LIMIT TO (secret) FROM SERVER ks INTO public;');
is($rc, 0, 'bob\'s IMPORT FOREIGN SCHEMA succeeds');
like($err, qr/NOTICE:  00000: widecol table "ks.secret" is not imported: it belongs to another owner/,
	'and says what it left out');
is($node->safe_psql('db2', "SELECT to_regclass('public.secret') IS NULL"), 't',
	'no foreign table imported for bob');

# the owner herself, and a superuser, may attach from another database
($rc, $out, $err) = as_role('db2', 'alice', "CREATE FOREIGN TABLE mine $table; SELECT v FROM mine;");
is($rc, 0, 'alice attaches her table from db2');
like($out, qr/alice's secret/, 'and reads it');
is($node->safe_psql('db2', "CREATE FOREIGN TABLE admin $table; SELECT v FROM admin;"),
	"alice's secret", 'a superuser attaches and reads');

# GRANT/REVOKE on the original relation mean what they say
$node->safe_psql('db1', 'GRANT SELECT ON secret TO bob');
($rc, $out, $err) = as_role('db1', 'bob', 'SELECT v FROM secret;');
is($rc, 0, 'after GRANT SELECT bob reads');
like($out, qr/alice's secret/, 'the granted data');
($rc, $out, $err) = as_role('db1', 'bob', "INSERT INTO secret VALUES (2, 'x');");
like($err, qr/42501: permission denied for foreign table secret/, 'but may not write');
$node->safe_psql('db1', 'REVOKE SELECT ON secret FROM bob');
($rc, $out, $err) = as_role('db1', 'bob', 'SELECT v FROM secret;');
like($err, qr/42501: permission denied for foreign table secret/, 'after REVOKE bob reads nothing');

# ALTER FOREIGN TABLE ... OWNER TO of the original relation hands the
# engine table over: now bob may attach from db2, alice may not
$node->safe_psql('db1', 'ALTER FOREIGN TABLE secret OWNER TO bob');
($rc, $out, $err) = as_role('db2', 'bob', "CREATE FOREIGN TABLE handed $table; SELECT v FROM handed;");
is($rc, 0, 'the new owner attaches from db2');
like($out, qr/alice's secret/, 'and reads');
($rc, $out, $err) = as_role('db2', 'alice', "CREATE FOREIGN TABLE again $table;");
like($err, qr/42501: permission denied to attach.*\n.*owned by role "bob"/,
	'the former owner may not attach any more');

$node->stop('fast');
done_testing();
