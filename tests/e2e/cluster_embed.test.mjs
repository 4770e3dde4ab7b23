// An embedded node (examples/embed) joins a presenced cluster: it sees the
// cluster's users, and the cluster sees its users.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, tempDir, withTimeout } from './lib/harness.mjs';
import { Cluster } from './lib/cluster.mjs';

const EMBED = process.env.EMBED_BIN
  ?? new URL('../../build/examples/embed', import.meta.url).pathname;

test('examples/embed joins a cluster when given a seed', async () => {
  const cluster = new Cluster();
  const dir = tempDir();
  let proc;
  try {
    const n1 = await cluster.add('n1');
    const bob = await n1.ws('/ws?userId=remote-bob');
    await bob.next(m => m.type === 'joined');
    proc = spawn(EMBED, [join(dir, 'data'), `127.0.0.1:${n1.clusterPort}`, 'remote-bob'],
                 { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const exited = new Promise(r => proc.on('exit', code => r(code)));
    await withTimeout(new Promise((resolve, reject) => {
      proc.stdout.on('data', d => { out += d; if (out.includes('READY')) resolve(); });
      exited.then(code => reject(new Error(`embed exited ${code}: ${out}`)));
    }), 20000, 'the embedded node to be ready');
    assert.match(out, /ok +joined the cluster/);
    assert.match(out, /ok +a user of another node is online here/);
    // send_to_user from the embedded node reached Bob's device on n1.
    assert.match(out, /ok +a notification reached the remote user's device/);
    const note = await bob.next(m => m.type === 'message' && m.message.id === 'note-1');
    assert.equal(note.message.content, 'hello from the embedded node');
    assert.equal(note.message.sender_id, 'system');
    // The cluster sees the embedded node's user.
    await eventually(async () =>
      (await n1.get('/api/user-status/alice')).body.data.isOnline, 5000, 'alice online on n1');
    const c = (await n1.get('/api/cluster')).body.data;
    assert.ok(c.nodes.some(m => m.node_id === 'embedded' && m.state === 'alive'));
    proc.stdin.end();
    assert.equal(await withTimeout(exited, 20000, 'embed to exit'), 0, out);
    assert.match(out, /embed: all good/);
    await eventually(async () =>
      !(await n1.get('/api/user-status/alice')).body.data.isOnline, 5000, 'alice offline on n1');
    await bob.close();
  } finally {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await cluster.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
