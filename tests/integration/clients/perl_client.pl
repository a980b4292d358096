#!/usr/bin/perl
# Client-matrix script: Cache::Memcached::Fast (Debian libcache-memcached-fast-perl, text protocol)
# runs the shared scenario against one server. Usage: perl_client.pl HOST PORT
# Prints "ok STEP" per step, "FAIL STEP: detail" and exit 1 on the first failure, "PASS N" at the end.
use strict;
use warnings;
use Cache::Memcached::Fast;

my ($host, $port) = @ARGV;
die "usage: $0 HOST PORT\n" unless defined $port;

my $mc = Cache::Memcached::Fast->new({
    servers            => ["$host:$port"],
    connect_timeout    => 2,
    io_timeout         => 5,
    compress_threshold => -1,          # never compress: the large value goes over the wire as is
    max_failures       => 0,
    utf8               => 0,
});

my $passed = 0;
sub check {
    my ($step, $cond, $detail) = @_;
    return if $cond;
    print "FAIL $step: ", ($detail // 'condition false'), "\n";
    exit 1;
}
sub ok_step { print "ok $_[0]\n"; $passed++; }
sub show { defined $_[0] ? "'$_[0]'" : 'undef' }

# set / get
check('set_get', $mc->set('pl:k1', 'hello'), 'set returned false');
my $v = $mc->get('pl:k1');
check('set_get', defined $v && $v eq 'hello', 'get returned ' . show($v));
check('set_get', !defined $mc->get('pl:missing'), 'missing key returned a value');
ok_step('set_get');

# multi-get: one "get k1 k2 k3 k4" request
$mc->set('pl:k2', 'two');
$mc->set('pl:k3', 'three');
my $h = $mc->get_multi('pl:k1', 'pl:k2', 'pl:k3', 'pl:nope');
check('multi_get', ref $h eq 'HASH' && keys(%$h) == 3, 'got keys: ' . join(',', sort keys %{$h || {}}));
check('multi_get', $h->{'pl:k1'} eq 'hello' && $h->{'pl:k2'} eq 'two' && $h->{'pl:k3'} eq 'three',
      'wrong values');
ok_step('multi_get');

# cas: fresh token succeeds, stale token fails, missing key fails
my $g = $mc->gets('pl:k1');
check('cas', ref $g eq 'ARRAY' && $g->[1] eq 'hello', 'gets returned ' . show($g));
my $token = $g->[0];
check('cas', $mc->cas('pl:k1', $token, 'world'), 'cas with fresh token failed');
check('cas', !$mc->cas('pl:k1', $token, 'stale'), 'cas with stale token succeeded');
$v = $mc->get('pl:k1');
check('cas', $v eq 'world', 'value after cas ' . show($v));
check('cas', !$mc->cas('pl:nope', $token, 'x'), 'cas on missing key succeeded');
ok_step('cas');

# incr / decr
$mc->set('pl:n', '10');
$v = $mc->incr('pl:n', 5);
check('incr_decr', defined $v && $v == 15, 'incr returned ' . show($v));
$v = $mc->decr('pl:n', 3);
check('incr_decr', defined $v && $v == 12, 'decr returned ' . show($v));
$v = $mc->decr('pl:n', 100);
check('incr_decr', defined $v && $v == 0, 'decr below zero returned ' . show($v));
$v = $mc->incr('pl:nope', 1);
check('incr_decr', !$v, 'incr on missing key returned ' . show($v));
ok_step('incr_decr');

# delete
check('delete', $mc->delete('pl:k2'), 'delete of existing key failed');
check('delete', !defined $mc->get('pl:k2'), 'key still there after delete');
check('delete', !$mc->delete('pl:k2'), 'second delete succeeded');
ok_step('delete');

# large value: 512 KiB, every byte value 0..250 including \r and \n
my $large = pack('C*', map { ($_ * 31 + ($_ >> 9)) % 251 } 0 .. 512 * 1024 - 1);
check('large_value', $mc->set('pl:large', $large), 'set of 512 KiB failed');
$v = $mc->get('pl:large');
check('large_value', defined $v && length($v) == length($large) && $v eq $large,
      'large value came back ' . (defined $v ? length($v) . ' bytes, different' : 'undef'));
ok_step('large_value');

# expiry: present right after set, gone after its 2 s lifetime
check('expiry', $mc->set('pl:ttl', 'short', 2), 'set with exptime failed');
check('expiry', defined $mc->get('pl:ttl'), 'gone immediately');
select(undef, undef, undef, 3.2);
$v = $mc->get('pl:ttl');
check('expiry', !defined $v, 'still there after 3.2 s: ' . show($v));
ok_step('expiry');

print "PASS $passed\n";
exit 0;
