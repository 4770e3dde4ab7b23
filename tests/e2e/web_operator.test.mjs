// The page's operator tab in a real browser (Debian's chromium, headless,
// playwright-core) against a real 3-node cluster: members and their
// figures from /api/cluster, the online count, the global feed's latest
// changes, and a killed node turning dead. A screenshot is kept as a test
// artifact.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, DETECTION_MS } from './lib/cluster.mjs';
import { eventually } from './lib/harness.mjs';
import { ARTIFACTS, NO_BROWSER, launchBrowser } from './lib/browser.mjs';

const POLL_MS = 1500;   // the page's /api/cluster poll

let cluster;
let browser;
const clients = [];

before(async () => {
  browser = await launchBrowser();
  if (!browser) return; // no cluster either: the test skips
  cluster = new Cluster();
  await cluster.add('n1');
  await cluster.add('n2');
  await cluster.add('n3');
  await cluster.converged();
});

after(async () => {
  for (const c of clients) c.terminate();
  if (browser) await browser.close();
  if (cluster) await cluster.dispose();
});

test('the operator tab shows the cluster, the online count and the latest changes', async t => {
  if (!browser) {
    t.skip(NO_BROWSER);
    return;
  }
  const n1 = cluster.node('n1');
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));

  await page.goto(n1.url + '/');
  assert.equal(await page.title(), 'presenced - live presence');
  // The two-user view is the default; the operator view is a tab.
  assert.equal(await page.getByTestId('view-presence').isVisible(), true);
  assert.equal(await page.getByTestId('view-operator').isVisible(), false);
  await page.getByTestId('tab-operator').click();
  await page.getByTestId('view-operator').waitFor();
  assert.equal(await page.getByTestId('view-presence').isVisible(), false);

  // Three members, alive (n1 is the page's own node: self).
  const row = (id, state) =>
    page.locator(`[data-testid="op-members"] tr[data-node="${id}"][data-state="${state}"]`);
  await row('n1', 'self').waitFor();
  for (const id of ['n2', 'n3'])
    await row(id, 'alive').waitFor();
  assert.equal(await page.locator('[data-testid="op-members"] tr').count(), 3);
  assert.equal(await page.getByTestId('op-self').textContent(), 'n1');
  const ring = Number(await page.getByTestId('op-ring-version').textContent());
  assert.ok(ring >= 1, `ring version ${ring}`);
  // The feed follows as an anonymous observer.
  await page.getByTestId('op-feed').filter({ hasText: 'anonymous observer' }).waitFor();

  // Native clients on different nodes.
  const users = { 'op-ann': 'n1', 'op-ben': 'n2', 'op-cy': 'n3', 'op-dee': 'n3' };
  for (const [user, node] of Object.entries(users)) {
    const c = await cluster.node(node).ws(`/ws?userId=${user}&deviceId=${user}-dev`);
    clients.push(c);
    await c.next(m => m.type === 'joined');
  }

  // Users owned add up to the four users; each node counts its sockets.
  const figures = async () => page.locator('[data-testid="op-members"] tr').evaluateAll(rows =>
    Object.fromEntries(rows.map(r => [r.dataset.node,
      { owned: Number(r.dataset.usersOwned), conns: Number(r.dataset.connections) }])));
  await eventually(async () => {
    const f = await figures();
    const owned = Object.values(f).reduce((a, x) => a + x.owned, 0);
    return owned === 4 && f.n1?.conns >= 2 && f.n2?.conns >= 1 && f.n3?.conns >= 2;
  }, 8000, 'users owned and connections to show the clients');

  // The latest changes list shows their joins.
  for (const user of Object.keys(users))
    await page.locator(`[data-testid="op-changes"] li[data-user="${user}"][data-online="true"]`)
      .waitFor({ timeout: 5000 });
  assert.match(await page.getByTestId('op-changes').textContent(), /op-ben\s*online/);

  // The online count is the REST count.
  await eventually(async () => {
    const want = (await n1.get('/api/user-status/online/count')).body.count;
    return want === 4 && await page.getByTestId('op-online-count').textContent() === String(want);
  }, 5000, 'the online count to match /api/user-status/online/count');
  // The sparkline has points.
  assert.notEqual(await page.locator('#op-spark-line').getAttribute('points'), '');

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'web-operator.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot));

  // n3 dies: the view shows it dead within the detection bound plus a poll.
  const killed = Date.now();
  await cluster.node('n3').kill9();
  await row('n3', 'dead')
    .waitFor({ timeout: DETECTION_MS + POLL_MS + 2000 });
  const took = Date.now() - killed;
  assert.ok(took <= DETECTION_MS + POLL_MS + 2000, `dead after ${took} ms`);
  t.diagnostic(`n3 shown dead ${took} ms after kill -9`);
  // Its users go offline in the latest changes.
  await page.locator('[data-testid="op-changes"] li[data-user="op-cy"][data-online="false"]')
    .waitFor({ timeout: 5000 });

  assert.deepEqual(errors, []);
  await ctx.close();
});
