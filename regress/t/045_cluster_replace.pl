#
# 045_cluster_replace.pl - replacing a dead node: three nodes at RF 3 with
# a QUORUM writer running; node 2 is killed (SIGKILL) and its widecol data
# directory wiped (a new disk; the instance keeps its PostgreSQL catalog,
# which the cluster schema fills in anyway).  Started again with
# widecol.replace_address naming a live node, it is refused and stays out
# of the ring; restarted with replace_address naming its own (dead) address,
# it replaces the dead node: node 0 shows the address joining, then normal
# with a new host id and the dead node's tokens, and every write the writer
# saw acknowledged is read back at ONE from the replacement (it streamed
# them, or got them as a pending replica).  A restart of the replacement
# ignores the setting (first start only).  Failure detection at phi 3 keeps
# the wait for node 2's death short.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use File::Path qw(rmtree);
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my $t_start = time();
my @nodes = widecol_cluster(3, conf => "widecol.phi_convict_threshold = 3\n");
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE kv (k bigint, v text) SERVER ks OPTIONS (primary_key 'k');},
	[ 'kv' ]);
$nodes[0]->safe_psql('postgres', q{
	SET widecol.consistency = quorum;
	INSERT INTO kv SELECT g, 'pre' FROM generate_series(1, 2000) g});

# one writer on node 0: keys 1e6 + i
my $writer = start_writer($nodes[0], 'replace', 1000000, 'w');

sub log_has
{
	my ($node, $re) = @_;
	for (1 .. 120)
	{
		return 1 if slurp_file($node->logfile) =~ $re;
		sleep(0.25);
	}
	return 0;
}

# ---- node 2 dies for good
my $victim = node_address($nodes[2]);
my ($vport) = $victim =~ /:(\d+)$/;
my $old_id = $nodes[0]->safe_psql('postgres',
	"SELECT host_id FROM widecol.nodes WHERE address = '$victim'");
my $tokens_sql = "SELECT string_agg(token::text, ',' ORDER BY token) FROM widecol.ring "
  . "WHERE address = '$victim'";
my $old_tokens = $nodes[0]->safe_psql('postgres', $tokens_sql);
my $new = $nodes[2];
my ($oldpid) = split /\n/, slurp_file($new->data_dir . '/postmaster.pid');
kill_node($new);
for (1 .. 100)
{
	last unless kill(0, $oldpid);
	sleep(0.1);
}
rmtree($new->data_dir . '/widecol');

# ---- meanwhile, the wiped instance naming a live node is refused and stays out
my $live = node_address($nodes[1]);
$new->append_conf('postgresql.conf', "widecol.replace_address = '$live'\n");
# the killed postmaster's children may linger a moment (shared memory in use)
for (1 .. 80)
{
	last if $new->start(fail_ok => 1);
	$new->{_pid} = undef;    # the stale lock file of the killed postmaster
	sleep(0.25);
}
ok(log_has($new, qr/replace_address refused: node \Q$live\E is up/),
	'replacing a live node is refused with a logged reason');
is($new->safe_psql('postgres', 'SELECT count(*) FROM widecol.nodes'),
	'1', 'the refused instance knows no other node (it never gossiped)');
my ($rr, $ro, $re) = $new->psql('postgres', 'SELECT count(*) FROM kv');
ok($rr != 0 && $re =~ /replace_address refused/, 'its requests fail with the reason')
  or diag($re);
$new->stop;
ok(wait_down($nodes[0], $victim), 'node 0 sees node 2 down');

# ---- restarted with node 2's own address, it replaces the dead node
my $t_replace = time();
$new->append_conf('postgresql.conf', "widecol.replace_address = '$victim'\n");
$new->start;
my @states;
for (1 .. 600)
{
	my $st = $nodes[0]->safe_psql('postgres',
		"SELECT state || '/' || host_id FROM widecol.nodes WHERE address = '$victim'");
	push @states, $st if $st ne '' && (!@states || $states[-1] ne $st);
	last if $st =~ /^normal/ && $st !~ /\Q$old_id\E/;
	sleep(0.1);
}
my $seen = join(' -> ', map { my $s = $_; $s =~ s/\Q$old_id\E/old/; $s =~ s/\/[0-9a-f-]{36}$/\/new/; $s } @states);
like($seen, qr/joining\/new -> normal\/new$/,
	"node 0 saw the address joining, then normal with a new host id ($seen)");
ok(defined wait_up_normal(3, $nodes[0], $nodes[1], $new), 'three nodes up and normal');
my $took = time() - $t_replace;
is($nodes[0]->safe_psql('postgres', $tokens_sql), $old_tokens,
	'the replacement owns the dead node\'s tokens');
isnt($new->safe_psql('postgres',
		"SELECT host_id FROM widecol.nodes WHERE address = '$victim'"),
	$old_id, 'with a host id of its own');
ok(log_has($new, qr/replacing the dead node \Q$victim\E/), 'the replacement logged what it does');

# keep writing a little with the replacement, then stop the writer
sleep(1);
my ($acked) = stop_writers($writer);

my %acked = (%$acked, map { $_ => 1 } (1 .. 2000));
my $keys = $new->safe_psql('postgres', q{SET widecol.consistency = one; SELECT k FROM kv});
my %have = map { $_ => 1 } split /\n/, $keys;
my @lost = grep { !$have{$_} } keys %acked;
is(scalar(@lost), 0,
	'the replacement reads every acknowledged write at ONE (' . scalar(keys %acked) . ')')
  or diag('lost: ' . join(',', (sort @lost)[ 0 .. ($#lost < 9 ? $#lost : 9) ]));

# ---- a restart of the replacement ignores the setting
$new->restart;
ok(log_has($new, qr/replace_address \Q$victim\E ignored/), 'a restart ignores replace_address');
ok(defined wait_up_normal(3, $nodes[0], $new), 'the replacement is normal after its restart');
diag(sprintf('%d writes acknowledged; the replacement took %.1f s; the test %.1f s',
		scalar(keys %acked), $took, time() - $t_start));

$_->stop for ($nodes[0], $nodes[1], $new);
done_testing();
