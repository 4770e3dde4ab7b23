// Mutual TLS between nodes: with --cluster-tls-cert/-key/-ca nodes whose
// certificates the cluster's CA signed form a cluster; a node with a
// certificate of another CA, a self-signed one, or none cannot join.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server, eventually, tempDir } from './lib/harness.mjs';
import { Cluster } from './lib/cluster.mjs';

const dir = tempDir('presenced-cluster-tls-');
const ssl = args => {
  const r = spawnSync('openssl', args, { cwd: dir });
  assert.equal(r.status, 0, r.stderr?.toString());
};
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA: { cert, key }. */
function makeCa(name) {
  ssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** A node certificate signed by `ca` (or self-signed without one). */
function makeNode(name, ca) {
  if (!ca) {
    ssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`]);
  } else {
    ssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
         '-out', `${name}.pem`, '-days', '1']);
  }
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

const ca = makeCa('cluster-ca');
const otherCa = makeCa('other-ca');
const tlsArgs = (node, trust = ca) => ['--cluster-tls-cert', node.cert, '--cluster-tls-key', node.key,
                                      '--cluster-tls-ca', trust.cert];
// A failure timeout of 3 s rather than the tests' 1 s: these tests check
// that the link between a and b never drops, and a loaded machine may
// stall a node for a second.
const cluster = new Cluster(['--failure-timeout', '3000']);

/** The link between a and b held: neither declared the other gone. */
function linkHeld(when) {
  for (const n of ['a', 'b'])
    assert.doesNotMatch(cluster.node(n).output, /is gone/, `${n} lost its peer ${when}`);
}

before(async () => {
  await cluster.add('a', tlsArgs(makeNode('node-a', ca)));
  await cluster.add('b', tlsArgs(makeNode('node-b', ca)));
  await cluster.converged();
});

after(async () => {
  await cluster.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('nodes with certificates of the cluster CA form a cluster and share presence', async () => {
  const a = cluster.node('a');
  const b = cluster.node('b');
  assert.doesNotMatch(a.output + b.output, /plaintext/);
  const ws = await a.ws('/ws?userId=mtls-ann');
  await ws.next(m => m.type === 'joined');
  await eventually(async () => (await b.get('/api/user-status/mtls-ann')).body.data.isOnline === true,
                   5000, 'the user online as b reads it');
  await ws.close();
  // CAF's OpenSSL module once cut the link right after it formed (the
  // redundant second connection's close left an error behind).
  linkHeld('as the cluster formed');
});

/** Starts a node that dials `a` with `args`; resolves once it tried twice
 *  and was refused. A dial can also end in `connection_timeout` a few ms
 *  in: CAF 0.17.6's middleman heartbeat cuts an outgoing connection whose
 *  handshake has not ended by its next tick (the connection counts as
 *  last heard of at time zero until then), and a TLS handshake lasts long
 *  enough to be caught (ticks every 100 ms here; one dial in ten or
 *  twenty on a loaded machine). The node dials again a second later. */
async function intruder(name, args) {
  const a = cluster.node('a');
  const s = await new Server({ args: ['--cluster-listen', '127.0.0.1:0', '--node-id', name,
                                      '--cluster-heartbeat', '100', '--failure-timeout', '3000',
                                      '--seeds', `127.0.0.1:${a.clusterPort}`, '--log-level', 'debug',
                                      ...args] }).start();
  try {
    // Told once at warn level, then again at debug on every retry.
    await eventually(() => (s.output.match(new RegExp(`cannot dial 127\\.0\\.0\\.1:${a.clusterPort}`, 'g')) ?? []).length >= 2
                           && /warn.*cannot dial .*the peer ended the handshake/.test(s.output),
                     15000, `${name} to have tried to join twice and been refused`);
  } catch (e) {
    // A failure ends the test at once (a node left running kept it alive
    // until ctest's timeout).
    await s.dispose();
    throw e;
  }
  return s;
}

test('a node with a certificate of another CA, a self-signed one or none cannot join', async () => {
  // Each intruder trusts the cluster's CA too (a bundle with its own), so
  // only the cluster's side can be the one that refuses.
  const bundle = (name, ...certs) => {
    const path = join(dir, `${name}-bundle.pem`);
    writeFileSync(path, certs.map(c => readFileSync(c)).join(''));
    return { cert: path };
  };
  const x = makeNode('node-x', otherCa);
  const y = makeNode('node-y');
  const intruders = [
    ['other-ca', tlsArgs(x, bundle('x', otherCa.cert, ca.cert))],
    ['self-signed', tlsArgs(y, bundle('y', y.cert, ca.cert))],
    ['plain', []],
  ];
  for (const [name, args] of intruders) {
    const s = await intruder(name, args);
    try {
      // Neither side counts it a member.
      const own = await s.get('/api/cluster');
      assert.deepEqual(own.body.data.nodes.map(n => n.node_id), [name], name);
      for (const n of ['a', 'b']) {
        const r = await cluster.node(n).get('/api/cluster');
        assert.deepEqual(r.body.data.nodes.map(m => m.node_id).sort(), ['a', 'b'], `${n} after ${name}`);
      }
      if (name === 'plain')
        await eventually(() => /the cluster port is plaintext and unauthenticated/.test(s.output), 5000, 'the plaintext warning');
    } finally {
      await s.dispose();
    }
  }
  // A refused handshake on a's network thread once cut a's healthy link to
  // b (a stale OpenSSL error made the next read on it look failed): every
  // intruder took the cluster apart for a second.
  linkHeld('while intruders were refused');
  const ws = await cluster.node('a').ws('/ws?userId=mtls-bob');
  await ws.next(m => m.type === 'joined');
  await eventually(async () => (await cluster.node('b').get('/api/user-status/mtls-bob')).body.data.isOnline === true,
                   5000, 'a user who joined after the intruders online as b reads it');
  await ws.close();
});

test('the start refuses cluster TLS files that cannot work', async () => {
  const good = makeNode('node-c', ca);
  for (const [args, why] of [
    [['--cluster-tls-cert', good.cert, '--cluster-tls-key', good.key], /go together/],
    [tlsArgs(good, otherCa), /is not signed by the CA/],
    [['--cluster-tls-cert', good.cert, '--cluster-tls-key', join(dir, 'node-a.key'), '--cluster-tls-ca', ca.cert],
     /is not the key of the certificate/],
    [['--cluster-tls-cert', join(dir, 'missing.pem'), '--cluster-tls-key', good.key, '--cluster-tls-ca', ca.cert],
     /cluster-tls-cert: cannot load/],
  ]) {
    const s = new Server({ args: ['--cluster-listen', '127.0.0.1:0', ...args] });
    await assert.rejects(s.start(), e => {
      assert.match(e.message, /exited early \((1|2)\)/);
      assert.match(e.message, why);
      return true;
    });
    await s.dispose();
  }
});
