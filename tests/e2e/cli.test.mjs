// The binary's command line: --help, fail-fast validation, and the config
// precedence flags > PRESENCE_* env > config file > defaults.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Server, tempDir } from './lib/harness.mjs';

const run = (args, env = {}) =>
  spawnSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000 });

test('--help lists every option and the environment rule', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0);
  for (const opt of ['--listen', '--data-dir', '--heartbeat-ttl', '--jwt-secret', '--config',
                     '--reconnect-grace', '--coalesce-window', '--max-frame-bytes',
                     '--write-queue-bytes', '--rate-limit', '--checkpoint-interval',
                     '--history-limit', '--log-level', '--io-threads'])
    assert.ok(r.stdout.includes(opt), `--help mentions ${opt}`);
  assert.match(r.stdout, /PRESENCE_/);
  assert.match(r.stdout, /127\.0\.0\.1:8080/);
});

test('invalid configuration fails fast with a clear message', () => {
  const cases = [
    [['--heartbeat-ttl', '0.2'], /heartbeat-ttl/],
    [['--listen', 'nonsense'], /HOST:PORT/],
    [['--listen', '127.0.0.1:99999'], /port/],
    [['--log-level', 'loud'], /log-level/],
    [['--log-format', 'xml'], /log-format must be text or json/],
    [['--no-such-flag'], /no-such-flag|not expected/i],
    [['--rate-limit', '-1'], /rate-limit/],
    [['--malloc-mmap-threshold-kb', '40000'], /malloc-mmap-threshold-kb/],
    [['--config', '/nonexistent/presenced.toml'], /nonexistent|File/i],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')} -> ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const env = run([], { PRESENCE_HEARTBEAT_TTL: 'abc' });
  assert.equal(env.status, 2);
  const dir = tempDir();
  try {
    const cfg = join(dir, 'bad.toml');
    writeFileSync(cfg, 'unknown-key = 3\n');
    const r = run(['--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown-key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The TTL a server announces in its welcome frame. */
async function effectiveTtl(args, env) {
  const srv = await new Server({ args, env }).start();
  try {
    const c = await srv.ws('/ws');
    const w = await c.next(m => m.type === 'welcome');
    await c.close();
    return w.heartbeat_ttl_ms;
  } finally {
    await srv.dispose();
  }
}

test('precedence: command line > environment > config file > default', async () => {
  const dir = tempDir();
  try {
    const cfg = join(dir, 'presenced.toml');
    writeFileSync(cfg, '# test config\nheartbeat-ttl = 30\nlog-level = "warn"\n');
    assert.equal(await effectiveTtl([]), 90000, 'default');
    assert.equal(await effectiveTtl(['--config', cfg]), 30000, 'file');
    assert.equal(await effectiveTtl(['--config', cfg], { PRESENCE_HEARTBEAT_TTL: '40' }), 40000, 'env over file');
    assert.equal(await effectiveTtl(['--config', cfg, '--heartbeat-ttl', '50'],
                                    { PRESENCE_HEARTBEAT_TTL: '40' }), 50000, 'flag over env');
    assert.equal(await effectiveTtl([], { PRESENCE_CONFIG: cfg }), 30000, 'config file from env');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--check-config prints a config file that reads back the same', () => {
  const dir = tempDir();
  try {
    const first = run(['--check-config', '--heartbeat-ttl', '12.5', '--rate-limit', '7'],
                      { PRESENCE_HISTORY_LIMIT: '9' });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^heartbeat-ttl = 12\.5$/m);
    assert.match(first.stdout, /^history-limit = 9$/m);
    const cfg = join(dir, 'effective.toml');
    writeFileSync(cfg, first.stdout);
    const again = run(['--check-config', '--config', cfg]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, first.stdout);
    const secret = run(['--check-config', '--jwt-secret', 'hush']);
    assert.doesNotMatch(secret.stdout, /hush/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port already in use fails with a clear message', async () => {
  const a = await new Server().start();
  try {
    const b = new Server({ port: a.port });
    await assert.rejects(b.start(), /cannot listen on 127\.0\.0\.1:\d+/);
    await b.dispose();
  } finally {
    await a.dispose();
  }
});

test('--log-format json: every line the server logs is one JSON object', async () => {
  const s = await new Server({ args: ['--log-format', 'json', '--log-level', 'info',
                                       '--max-frame-bytes', '1024'] }).start();
  try {
    // Something the edge's own logger reports: an oversized message.
    const c = await s.ws('/ws?userId=logger');
    await c.next(m => m.type === 'joined');
    c.send('x'.repeat(4000));
    assert.equal((await c.closed).code, 1009);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
  const lines = s.output.split('\n').filter(l => l.length > 0);
  assert.ok(lines.length >= 2, s.output);
  const loggers = new Set();
  for (const l of lines) {
    const j = JSON.parse(l);
    assert.deepEqual(Object.keys(j), ['time', 'level', 'logger', 'msg'], l);
    assert.match(j.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['trace', 'debug', 'info', 'warning', 'error', 'critical'].includes(j.level), l);
    loggers.add(j.logger);
  }
  assert.ok(loggers.has('main'), [...loggers].join(','));
  assert.ok(loggers.size >= 2, `folder loggers use the format too: ${[...loggers].join(',')}`);
});
