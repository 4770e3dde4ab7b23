// Server memory per held connection, plain WebSocket against WSS, in one run:
// a fresh presenced per mode (the TLS one with a self-signed P-256
// certificate), N native clients joined and idle, the server's RSS (from
// /proc/PID/status) before and after; prints one JSON line and a summary.
//   node bench/tls_hold.mjs [N]        (bench/tls.sh builds and runs it)
// Uses the e2e harness and its `ws` package (tests/e2e, `make test-deps`).

import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from '../tests/e2e/lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const WebSocket = createRequire(join(here, '../tests/e2e/package.json'))('ws');
const N = Number(process.argv[2] ?? 2000);
const BATCH = 100;

const rssKiB = pid => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sleep = ms => new Promise(r => setTimeout(r, ms));

/** The median of five RSS samples 200 ms apart. */
async function settledRss(pid) {
  const xs = [];
  for (let i = 0; i < 5; i++) { xs.push(rssKiB(pid)); await sleep(200); }
  return xs.sort((a, b) => a - b)[2];
}

function joined(url, ca) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca, perMessageDeflate: false });
    ws.on('message', d => { if (JSON.parse(String(d)).type === 'joined') resolve(ws); });
    ws.on('error', reject);
  });
}

async function run(mode, tlsArgs, ca) {
  const srv = await new Server({ args: ['--reconnect-grace', '0', ...tlsArgs] }).start();
  const pid = srv.proc.pid;
  try {
    await sleep(1000);
    const before = await settledRss(pid);
    const scheme = mode === 'tls' ? 'wss' : 'ws';
    const clients = [];
    for (let i = 0; i < N; i += BATCH) {
      const batch = [];
      for (let k = i; k < Math.min(N, i + BATCH); k++)
        batch.push(joined(`${scheme}://127.0.0.1:${srv.port}/ws?userId=hold-${k}`, ca));
      clients.push(...await Promise.all(batch));
    }
    await sleep(3000); // idle: what an idle presence socket costs
    const after = await settledRss(pid);
    for (const c of clients) c.terminate();
    return { mode, connections: N, rss_before_kib: before, rss_after_kib: after,
             kib_per_connection: +((after - before) / N).toFixed(2) };
  } finally {
    await srv.dispose();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'presenced-tls-bench-'));
try {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                                     '-nodes', '-keyout', key, '-out', cert, '-days', '1',
                                     '-subj', '/CN=presenced-bench',
                                     '-addext', 'subjectAltName=IP:127.0.0.1']);
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const plain = await run('plain', [], undefined);
  const tls = await run('tls', ['--tls-cert', cert, '--tls-key', key], readFileSync(cert));
  const extra = +(tls.kib_per_connection - plain.kib_per_connection).toFixed(2);
  console.log(JSON.stringify({ tls_hold: { plain, tls, tls_extra_kib_per_connection: extra } }));
  console.error(`${N} joined idle native connections: plain ${plain.kib_per_connection} KiB each, ` +
                `TLS ${tls.kib_per_connection} KiB each (+${extra} KiB for TLS)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
