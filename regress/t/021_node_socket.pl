#
# 021_node_socket.pl - the node's Unix socket lives in
# $PGDATA/widecol_socket (mode 0700), reached by a path relative to the data
# directory: a file squatting where the socket used to be (beside
# PostgreSQL's socket, in a directory other users may write) does not keep
# the node down, a too-open directory is closed again, and a data directory
# deeper than a Unix socket path may be long still works.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# a long node name makes $PGDATA longer than the 107 bytes of sun_path
my $node = PostgreSQL::Test::Cluster->new('socket_' . ('x' x 100));
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'widecol'\n");
my $pgdata = $node->data_dir;
cmp_ok(length("$pgdata/widecol_socket/node.sock"), '>', 107,
	'the absolute socket path would be too long for sun_path');

# squat on the place a socket in unix_socket_directories would have
my $squat = $node->host . '/.s.widecol.' . $node->port;
open(my $fh, '>', $squat) or die "could not create $squat: $!";
close($fh);

$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
	'the node runs despite the squatted file');
ok(-S "$pgdata/widecol_socket/node.sock", 'socket in $PGDATA/widecol_socket');
is(sprintf('%o', (stat("$pgdata/widecol_socket"))[2] & 07777), '700',
	'socket directory has mode 0700');
is(sprintf('%o', (stat("$pgdata/widecol_socket/node.sock"))[2] & 0777), '600',
	'socket has mode 0600');

$node->safe_psql('postgres', q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks OPTIONS (primary_key '((k))');
	INSERT INTO kv VALUES (1, 'served');});
is($node->safe_psql('postgres', 'SELECT v FROM kv WHERE k = 1'), 'served',
	'backends reach the node through the relative path');

# a directory opened up while the server was down is closed again
$node->stop('fast');
chmod(0777, "$pgdata/widecol_socket") or die "chmod: $!";
$node->start;
ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
	'node runs after a restart');
is(sprintf('%o', (stat("$pgdata/widecol_socket"))[2] & 07777), '700',
	'the node set mode 0700 again');
is($node->safe_psql('postgres', 'SELECT v FROM kv WHERE k = 1'), 'served', 'data served');

# something else in the socket directory's place stops the node, loudly
$node->stop('fast');
unlink("$pgdata/widecol_socket/node.sock");
rmdir("$pgdata/widecol_socket") or die "rmdir: $!";
open($fh, '>', "$pgdata/widecol_socket") or die "could not create file: $!";
close($fh);
my $log_offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/"\Q$pgdata\E\/widecol_socket" is not a directory owned by the PostgreSQL server's user/,
		$log_offset),
	'a file in place of the socket directory is reported');
is($node->safe_psql('postgres', 'SELECT running FROM widecol.node_status()'), 'f',
	'and the node does not serve through it');
$node->stop('fast');
unlink("$pgdata/widecol_socket");

done_testing();
