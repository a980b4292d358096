// Client-matrix script: memjs (npm, pinned in package.json) runs the shared scenario against one
// server.
// memjs speaks only the BINARY protocol and has no multi-get or cas call: multi-get is several gets
// in flight at once on one connection, and the cas step is reported as not applicable.
// Usage: node node_client.js HOST PORT. Prints "ok STEP" per step, "FAIL STEP: detail" and exit 1
// on the first failure, "PASS N" at the end.
'use strict';
const memjs = require('memjs');

const [host, port] = process.argv.slice(2);
if (!port) {
  console.error('usage: node node_client.js HOST PORT');
  process.exit(2);
}

// No retries and a 2 s timeout, so a server that cannot answer fails the script fast.
const mc = memjs.Client.create(`${host}:${port}`, {
  retries: 0, timeout: 2, conntimeout: 2, logger: { log() {} },
});

class StepFailure extends Error {}
function check(cond, detail) {
  if (!cond) throw new StepFailure(detail || 'condition false');
}
const str = (buf) => (buf === null || buf === undefined ? 'null' : JSON.stringify(buf.toString()));

const steps = [
  ['set_get', async () => {
    check(await mc.set('js:k1', 'hello', { expires: 0 }), 'set returned false');
    const { value } = await mc.get('js:k1');
    check(value && value.toString() === 'hello', `get returned ${str(value)}`);
    check((await mc.get('js:missing')).value === null, 'missing key returned a value');
  }],
  ['multi_get', async () => {
    await mc.set('js:k2', 'two', { expires: 0 });
    await mc.set('js:k3', 'three', { expires: 0 });
    const keys = ['js:k1', 'js:k2', 'js:k3', 'js:nope'];
    const got = await Promise.all(keys.map((k) => mc.get(k)));
    const vals = got.map((r) => (r.value === null ? null : r.value.toString()));
    check(JSON.stringify(vals) === JSON.stringify(['hello', 'two', 'three', null]),
      `got ${JSON.stringify(vals)}`);
  }],
  ['cas', null], // memjs 1.3 has no gets/cas call
  ['incr_decr', async () => {
    await mc.set('js:n', '10', { expires: 0 });
    let r = await mc.increment('js:n', 5, {});
    check(r.success && r.value === 15, `incr returned ${JSON.stringify(r)}`);
    r = await mc.decrement('js:n', 3, {});
    check(r.success && r.value === 12, `decr returned ${JSON.stringify(r)}`);
    r = await mc.decrement('js:n', 100, {});
    check(r.success && r.value === 0, `decr below zero returned ${JSON.stringify(r)}`);
  }],
  ['delete', async () => {
    check(await mc.delete('js:k2'), 'delete of existing key failed');
    check((await mc.get('js:k2')).value === null, 'key still there after delete');
    check(!(await mc.delete('js:k2')), 'second delete succeeded');
  }],
  ['large_value', async () => {
    // 512 KiB, every byte value 0..250 including \r and \n
    const large = Buffer.alloc(512 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31 + (i >> 9)) % 251;
    check(await mc.set('js:large', large, { expires: 0 }), 'set of 512 KiB failed');
    const { value } = await mc.get('js:large');
    check(value && value.equals(large),
      `large value came back ${value ? `${value.length} bytes, different` : 'null'}`);
  }],
  ['expiry', async () => {
    check(await mc.set('js:ttl', 'short', { expires: 2 }), 'set with exptime failed');
    check((await mc.get('js:ttl')).value !== null, 'gone immediately');
    await new Promise((resolve) => setTimeout(resolve, 3200));
    const { value } = await mc.get('js:ttl');
    check(value === null, `still there after 3.2 s: ${str(value)}`);
  }],
];

(async () => {
  let passed = 0;
  for (const [name, fn] of steps) {
    if (fn === null) {
      console.log(`n/a ${name}`);
      continue;
    }
    try {
      await fn();
    } catch (e) {
      console.log(`FAIL ${name}: ${e instanceof StepFailure ? '' : `${e.name}: `}${e.message}`);
      mc.close();
      process.exit(1);
    }
    console.log(`ok ${name}`);
    passed++;
  }
  mc.close();
  console.log(`PASS ${passed}`);
  process.exit(0);
})();
