// deploy/: there is no container engine here, so the files are linted:
// YAML parses, the manifests have the parts a cluster needs, and every
// presenced flag or PRESENCE_* variable they use is accepted by the real
// binary's --check-config. (The systemd unit: tests/deploy/verify_deploy.sh.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { BIN } from './lib/harness.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const read = p => readFileSync(repo + p, 'utf8');

function checkConfig(args, env = {}) {
  const r = spawnSync(BIN, ['--check-config', ...args],
                      { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, `presenced rejects ${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
  return r.stdout;
}

test('compose: three nodes with distinct ids, shared seeds, own volumes', () => {
  const c = parse(read('deploy/compose.yaml'), { merge: true });
  const names = Object.keys(c.services).sort();
  assert.deepEqual(names, ['presenced-1', 'presenced-2', 'presenced-3']);
  const ids = new Set();
  for (const name of names) {
    const s = c.services[name];
    const env = s.environment;
    ids.add(env.PRESENCE_NODE_ID);
    assert.equal(env.PRESENCE_CLUSTER_ADVERTISE, `${name}:7000`);
    for (const peer of names) assert.ok(env.PRESENCE_SEEDS.includes(`${peer}:7000`));
    assert.equal(s.volumes.length, 1);
    const out = checkConfig([], Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));
    assert.match(out, new RegExp(`node-id = "${name}"`));
    assert.match(out, /cluster-listen = "0.0.0.0:7000"/);
  }
  assert.equal(ids.size, 3);
  assert.deepEqual(Object.keys(c.volumes).sort(), ['data-1', 'data-2', 'data-3']);
});

test('kubernetes: StatefulSet, headless peers, probes, PDB, volumes', () => {
  const docs = {};
  for (const f of ['statefulset', 'service-headless', 'service', 'pdb']) {
    const all = parseAllDocuments(read(`deploy/k8s/${f}.yaml`));
    assert.ok(all.every(d => d.errors.length === 0), `${f}.yaml parses`);
    for (const d of all) {
      const o = d.toJS();
      docs[`${o.kind}/${o.metadata.name}`] = o;
    }
  }
  const sts = docs['StatefulSet/presenced'];
  const peers = docs['Service/presenced-peers'];
  assert.ok(sts && peers && docs['Service/presenced'] && docs['PodDisruptionBudget/presenced']);
  assert.equal(sts.spec.serviceName, 'presenced-peers');
  assert.equal(peers.spec.clusterIP, 'None');
  assert.equal(peers.spec.publishNotReadyAddresses, true);
  const pod = sts.spec.template.spec.containers[0];
  assert.equal(pod.readinessProbe.httpGet.path, '/readyz');
  assert.equal(pod.livenessProbe.httpGet.path, '/healthz');
  assert.equal(pod.volumeMounts[0].mountPath, '/var/lib/presenced');
  assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, pod.volumeMounts[0].name);
  assert.ok(sts.spec.template.spec.terminationGracePeriodSeconds >= 20);
  // The args as the kubelet would expand them for pod presenced-1.
  const args = pod.args.map(a => a.replaceAll('$(POD_NAME)', 'presenced-1'));
  const out = checkConfig(args);
  assert.match(out, /node-id = "presenced-1"/);
  assert.match(out, /cluster-advertise = "presenced-1.presenced-peers:7000"/);
  for (let i = 0; i < sts.spec.replicas; i++)
    assert.match(out, new RegExp(`presenced-${i}\\.presenced-peers:7000`));
  assert.equal(docs['PodDisruptionBudget/presenced'].spec.maxUnavailable, 1);
});

test('Dockerfile: bookworm stages, runtime packages exist, non-root, healthcheck', () => {
  const df = read('deploy/Dockerfile');
  const froms = [...df.matchAll(/^FROM (\S+)/gm)].map(m => m[1]);
  assert.ok(froms.length >= 2, 'multi-stage');
  assert.ok(froms.every(f => f.startsWith('debian:bookworm')), froms.join(','));
  assert.match(df, /^USER (?!root)\S+/m);
  assert.match(df, /^HEALTHCHECK [\s\S]*?\/readyz/m);
  assert.match(df, /^EXPOSE 8080 7000/m);
  // Every COPY source exists in the repository.
  for (const m of df.matchAll(/^COPY (?!--from)(\S+) /gm))
    assert.ok(existsSync(repo + m[1]), `COPY ${m[1]}`);
  // The runtime packages are real Debian packages (local package index).
  const runtime = df.split(/^FROM /m).pop();
  const pkgs = runtime.match(/--no-install-recommends([\s\S]*?)&&/)[1]
    .replace(/\\\n/g, ' ').trim().split(/\s+/);
  const r = spawnSync('apt-cache', ['show', '--no-all-versions', ...pkgs], { encoding: 'utf8' });
  if (r.error) return;  // no apt here: nothing more to check
  assert.equal(r.status, 0, r.stderr);
  for (const p of pkgs) assert.match(r.stdout, new RegExp(`^Package: ${p.replace(/[+.]/g, '\\$&')}$`, 'm'));
});
