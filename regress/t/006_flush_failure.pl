#
# 006_flush_failure.pl - a background flush that keeps failing (the table's
# directory is not writable) fails every write with the flush's error and a
# hint, shows in widecol.node_status().background_error, and clears by
# itself once a retry succeeds; the rows written before are all there.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolNode;

plan skip_all => 'a read-only directory does not stop root' if $> == 0;

my $node = widecol_node('flushfail');
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks
	  OPTIONS (primary_key '((k))', table_id '4242');
	INSERT INTO kv VALUES (1, 'before');});
is($node->safe_psql('postgres', 'SELECT background_error IS NULL FROM widecol.node_status()'),
	't', 'no background failure at first');

my $dir = $node->data_dir . '/widecol/t4242';
ok(-d $dir, 'the table has its directory');
END { chmod 0700, $dir if $dir; }
chmod 0555, $dir or die "chmod $dir: $!";

# the flush in the session fails at once; the node's flush thread fails too
my ($rc, $stdout, $stderr) =
  $node->psql('postgres', "SELECT widecol.flush('kv')");
isnt($rc, 0, 'flush into a read-only directory fails');
like($stderr, qr/ERROR:  widecol: .*failed: io-error/, 'flush error is an io-error');

ok( $node->poll_query_until(
		'postgres',
		'SELECT background_error LIKE $$background flush of table %kv failed%$$ FROM widecol.node_status()'),
	'node_status() shows the failing background flush');
($rc, $stdout, $stderr) =
  $node->psql('postgres', "INSERT INTO kv VALUES (2, 'during')");
isnt($rc, 0, 'a write fails while the flush fails');
like($stderr, qr/ERROR:  widecol: write failed: io-error/, 'write error names the status');
like($stderr, qr/DETAIL:  background flush of table \S*kv failed/, 'detail names the flush and table');
like($stderr, qr/HINT:  /, 'with a hint');

chmod 0700, $dir or die "chmod $dir: $!";
ok( $node->poll_query_until(
		'postgres', 'SELECT background_error IS NULL FROM widecol.node_status()'),
	'the failure clears once a retry succeeds');
$node->safe_psql('postgres', "INSERT INTO kv VALUES (3, 'after')");
is($node->safe_psql('postgres', 'SELECT string_agg(v, \',\' ORDER BY k) FROM kv'),
	'before,after', 'rows written before and after are there');
$node->stop('fast');

done_testing();
