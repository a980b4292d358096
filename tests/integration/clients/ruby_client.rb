# Client-matrix script: dalli (Debian ruby-dalli 3.0.6) runs the shared scenario against one server.
# dalli 3.0.x speaks only the BINARY protocol (Dalli::Protocol::Binary is its one implementation;
# the meta protocol arrived in dalli 3.2). Usage: ruby ruby_client.rb HOST PORT
# Prints "ok STEP" per step, "FAIL STEP: detail" and exit 1 on the first failure, "PASS N" at the end.
require 'dalli'

host, port = ARGV
abort 'usage: ruby_client.rb HOST PORT' unless port

Dalli.logger.level = Logger::FATAL
# No compression, so the large value goes over the wire as is; a short socket timeout and one allowed
# failure, so a server that cannot answer fails the script in about 2 s.
DC = Dalli::Client.new("#{host}:#{port}", compress: false, socket_timeout: 2, socket_max_failures: 1)
# Per request in dalli 3.0: store strings as they are (no Marshal), which incr/decr need.
RAW = { raw: true }.freeze

$passed = 0
def check(step, cond, detail = 'condition false')
  return if cond
  puts "FAIL #{step}: #{detail}"
  exit 1
end

def ok_step(step)
  puts "ok #{step}"
  $passed += 1
end

# Every step inside one begin so a client error (e.g. Dalli::RingError) names the step it hit.
step = 'connect'
begin
  step = 'set_get'
  check(step, DC.set('rb:k1', 'hello', 0, RAW), 'set returned false')
  v = DC.get('rb:k1')
  check(step, v == 'hello', "get returned #{v.inspect}")
  check(step, DC.get('rb:missing').nil?, 'missing key returned a value')
  ok_step(step)

  step = 'multi_get'
  DC.set('rb:k2', 'two', 0, RAW)
  DC.set('rb:k3', 'three', 0, RAW)
  h = DC.get_multi('rb:k1', 'rb:k2', 'rb:k3', 'rb:nope')
  check(step, h == { 'rb:k1' => 'hello', 'rb:k2' => 'two', 'rb:k3' => 'three' }, "got #{h.inspect}")
  ok_step(step)

  step = 'cas'
  v, token = DC.get_cas('rb:k1')
  check(step, v == 'hello' && token.to_i.positive?, "get_cas returned #{[v, token].inspect}")
  check(step, DC.set_cas('rb:k1', 'world', token, 0, RAW), 'cas with fresh token failed')
  check(step, !DC.set_cas('rb:k1', 'stale', token, 0, RAW), 'cas with stale token succeeded')
  v = DC.get('rb:k1')
  check(step, v == 'world', "value after cas #{v.inspect}")
  v = DC.replace_cas('rb:nope', 'x', token, 0, RAW) # dalli answers NOT_FOUND with cas 0
  check(step, [nil, false, 0].include?(v), "cas on missing key returned #{v.inspect}")
  ok_step(step)

  step = 'incr_decr'
  DC.set('rb:n', '10', 0, RAW)
  v = DC.incr('rb:n', 5)
  check(step, v == 15, "incr returned #{v.inspect}")
  v = DC.decr('rb:n', 3)
  check(step, v == 12, "decr returned #{v.inspect}")
  v = DC.decr('rb:n', 100)
  check(step, v.zero?, "decr below zero returned #{v.inspect}")
  v = DC.incr('rb:nope', 1)
  check(step, v.nil?, "incr on missing key returned #{v.inspect}")
  ok_step(step)

  step = 'delete'
  check(step, DC.delete('rb:k2'), 'delete of existing key failed')
  check(step, DC.get('rb:k2').nil?, 'key still there after delete')
  check(step, !DC.delete('rb:k2'), 'second delete succeeded')
  ok_step(step)

  step = 'large_value'
  # 512 KiB, every byte value 0..250 including \r and \n
  large = (0...512 * 1024).map { |i| (i * 31 + (i >> 9)) % 251 }.pack('C*')
  check(step, DC.set('rb:large', large, 0, RAW), 'set of 512 KiB failed')
  v = DC.get('rb:large')
  check(step, v == large, "large value came back #{v.nil? ? 'nil' : "#{v.bytesize} bytes, different"}")
  ok_step(step)

  step = 'expiry'
  check(step, DC.set('rb:ttl', 'short', 2, RAW), 'set with exptime failed')
  check(step, DC.get('rb:ttl') == 'short', 'gone immediately')
  sleep 3.2
  v = DC.get('rb:ttl')
  check(step, v.nil?, "still there after 3.2 s: #{v.inspect}")
  ok_step(step)
rescue StandardError => e
  puts "FAIL #{step}: #{e.class}: #{e.message}"
  exit 1
end

puts "PASS #{$passed}"
exit 0
