<?php
// Client-matrix script: PHP memcached extension (Debian php-memcached, libmemcached, text protocol)
// runs the shared scenario against one server. Usage: php php_client.php HOST PORT
// Prints "ok STEP" per step, "FAIL STEP: detail" and exit 1 on the first failure, "PASS N" at the end.

if ($argc < 3) { fwrite(STDERR, "usage: php_client.php HOST PORT\n"); exit(2); }
[$host, $port] = [$argv[1], (int)$argv[2]];

$m = new Memcached();
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, false);
$m->setOption(Memcached::OPT_COMPRESSION, false);    // the large value goes over the wire as is
$m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 2000);  // ms
$m->setOption(Memcached::OPT_POLL_TIMEOUT, 5000);     // ms
$m->setOption(Memcached::OPT_RECV_TIMEOUT, 5000000);  // us
$m->setOption(Memcached::OPT_SEND_TIMEOUT, 5000000);  // us
$m->addServer($host, $port);

$passed = 0;
function check($step, $cond, $detail = 'condition false') {
    global $m;
    if ($cond) return;
    echo "FAIL $step: $detail (last result: ", $m->getResultCode(), ' ', $m->getResultMessage(), ")\n";
    exit(1);
}
function ok_step($step) { global $passed; echo "ok $step\n"; $passed++; }
function show($v) { return var_export($v, true); }

// set / get
check('set_get', $m->set('php:k1', 'hello'), 'set returned false');
$v = $m->get('php:k1');
check('set_get', $v === 'hello', 'get returned ' . show($v));
check('set_get', $m->get('php:missing') === false
      && $m->getResultCode() === Memcached::RES_NOTFOUND, 'missing key not reported as NOTFOUND');
ok_step('set_get');

// multi-get: one "get k1 k2 k3 k4" request
$m->set('php:k2', 'two');
$m->set('php:k3', 'three');
$h = $m->getMulti(['php:k1', 'php:k2', 'php:k3', 'php:nope']);
check('multi_get', is_array($h) && count($h) === 3, 'getMulti returned ' . show($h));
check('multi_get', $h['php:k1'] === 'hello' && $h['php:k2'] === 'two' && $h['php:k3'] === 'three',
      'wrong values ' . show($h));
ok_step('multi_get');

// cas: fresh token succeeds, stale token fails, missing key fails
$g = $m->get('php:k1', null, Memcached::GET_EXTENDED);
check('cas', is_array($g) && $g['value'] === 'hello' && $g['cas'] > 0, 'gets returned ' . show($g));
$token = $g['cas'];
check('cas', $m->cas($token, 'php:k1', 'world'), 'cas with fresh token failed');
check('cas', !$m->cas($token, 'php:k1', 'stale')
      && $m->getResultCode() === Memcached::RES_DATA_EXISTS, 'cas with stale token not EXISTS');
$v = $m->get('php:k1');
check('cas', $v === 'world', 'value after cas ' . show($v));
check('cas', !$m->cas($token, 'php:nope', 'x')
      && $m->getResultCode() === Memcached::RES_NOTFOUND, 'cas on missing key not NOT_FOUND');
ok_step('cas');

// incr / decr
$m->set('php:n', '10');
$v = $m->increment('php:n', 5);
check('incr_decr', $v === 15, 'incr returned ' . show($v));
$v = $m->decrement('php:n', 3);
check('incr_decr', $v === 12, 'decr returned ' . show($v));
$v = $m->decrement('php:n', 100);
check('incr_decr', $v === 0, 'decr below zero returned ' . show($v));
$v = $m->increment('php:nope', 1);
check('incr_decr', $v === false && $m->getResultCode() === Memcached::RES_NOTFOUND,
      'incr on missing key returned ' . show($v));
ok_step('incr_decr');

// delete
check('delete', $m->delete('php:k2'), 'delete of existing key failed');
check('delete', $m->get('php:k2') === false, 'key still there after delete');
check('delete', !$m->delete('php:k2') && $m->getResultCode() === Memcached::RES_NOTFOUND,
      'second delete not NOT_FOUND');
ok_step('delete');

// large value: 512 KiB, every byte value 0..250 including \r and \n
$n = 512 * 1024;
$bytes = [];
for ($i = 0; $i < $n; $i++) { $bytes[] = ($i * 31 + ($i >> 9)) % 251; }
$large = pack('C*', ...$bytes);
check('large_value', $m->set('php:large', $large), 'set of 512 KiB failed');
$v = $m->get('php:large');
check('large_value', is_string($v) && $v === $large,
      'large value came back ' . (is_string($v) ? strlen($v) . ' bytes, different' : show($v)));
ok_step('large_value');

// expiry: present right after set, gone after its 2 s lifetime
check('expiry', $m->set('php:ttl', 'short', 2), 'set with exptime failed');
check('expiry', $m->get('php:ttl') === 'short', 'gone immediately');
usleep(3200000);
$v = $m->get('php:ttl');
check('expiry', $v === false, 'still there after 3.2 s: ' . show($v));
ok_step('expiry');

echo "PASS $passed\n";
exit(0);
