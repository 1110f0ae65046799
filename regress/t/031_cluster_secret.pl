#
# 031_cluster_secret.pl - who may not join: a node with another secret and
# a node with another cluster name never appear in the seed's
# widecol.nodes, and the seed's log says why; a node whose secret file
# others may read does not start the cluster at all and says so.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub secret_file
{
	my ($name, $text, $mode) = @_;
	my $path = "$PostgreSQL::Test::Utils::tmp_check/$name";
	open(my $fh, '>', $path) or die "cannot write $path: $!";
	print $fh "$text\n";
	close($fh);
	chmod($mode, $path) or die "chmod $path: $!";
	return $path;
}

my $good = secret_file('good_secret', 'the right secret', 0600);
my $bad = secret_file('bad_secret', 'another secret', 0600);
my $open = secret_file('open_secret', 'the right secret', 0644);

my $seed_port = PostgreSQL::Test::Cluster::get_free_port();

sub make_node
{
	my ($name, $cluster, $secret, $port) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'widecol'
widecol.cluster_name = '$cluster'
widecol.listen_address = '127.0.0.1'
widecol.port = $port
widecol.seeds = '127.0.0.1:$seed_port'
widecol.cluster_secret_file = '$secret'
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
	return $node;
}

my $seed = make_node('seed', 'tap', $good, $seed_port);
ok($seed->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM widecol.nodes WHERE state = 'normal'}), 'the seed is normal');

my $wrong_secret = make_node('wrongsecret', 'tap', $bad, PostgreSQL::Test::Cluster::get_free_port());
my $wrong_name = make_node('wrongname', 'other', $good, PostgreSQL::Test::Cluster::get_free_port());

# both keep trying; the seed refuses them and says why
ok($seed->wait_for_log(qr/refused connection from 127\.0\.0\.1:\d+: wrong cluster secret/),
	'the seed logs the wrong secret');
ok($seed->wait_for_log(qr/refused connection from 127\.0\.0\.1:\d+: cluster name "other" differs from ours "tap"/),
	'the seed logs the other cluster name');

# after their join wait (5 s) they are alone, and the seed still is
ok($wrong_secret->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM widecol.nodes WHERE state = 'normal'}), 'the refused node is alone');
sleep(2);
is($seed->safe_psql('postgres', 'SELECT count(*) FROM widecol.nodes'), '1',
	'the seed knows only itself');
is($wrong_secret->safe_psql('postgres', 'SELECT count(*) FROM widecol.nodes'), '1',
	'the node with the wrong secret knows only itself');
is($wrong_name->safe_psql('postgres', 'SELECT count(*) FROM widecol.nodes'), '1',
	'the node of the other cluster knows only itself');

# a secret file that others may read: no cluster, a clear log line
my $exposed = make_node('exposed', 'tap', $open, PostgreSQL::Test::Cluster::get_free_port());
ok($exposed->wait_for_log(qr/widecol cluster not started: the cluster secret file ".*open_secret" may be read by group or others \(mode 0644\)/),
	'a readable secret file keeps the cluster from starting');
is($exposed->safe_psql('postgres', 'SELECT address FROM widecol.nodes'), 'local',
	'that node serves alone');
is($seed->safe_psql('postgres', 'SELECT count(*) FROM widecol.nodes'), '1',
	'and never reaches the seed');

$_->stop for ($seed, $wrong_secret, $wrong_name, $exposed);
done_testing();
