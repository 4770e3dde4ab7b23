// The demo page in a real browser: Debian's chromium, headless, driven by
// playwright-core. Two pages are two users; each sees the other appear and
// disappear. A screenshot is kept as a test artifact.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Server } from './lib/harness.mjs';
import { ARTIFACTS, NO_BROWSER, launchBrowser } from './lib/browser.mjs';


let srv;
let browser;

before(async () => {
  srv = await new Server({ args: ['--reconnect-grace', '0'] }).start();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await srv.dispose();
});

test('two users in two pages see each other come and go', async t => {
  if (!browser) {
    t.skip(NO_BROWSER);
    return;
  }
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const ann = await ctx.newPage();
  const ben = await ctx.newPage();
  const errors = [];
  for (const p of [ann, ben]) p.on('pageerror', e => errors.push(e.message));

  await ann.goto(srv.url + '/');
  assert.equal(await ann.title(), 'presenced - live presence');
  await ann.getByTestId('user-id').fill('web-ann');
  await ann.getByTestId('device-id').fill('ann-laptop');
  await ann.getByTestId('connect').click();
  await ann.getByTestId('connection').filter({ hasText: 'connected as web-ann' }).waitFor();

  await ben.goto(srv.url + '/?userId=web-ben');
  await ben.getByTestId('connect').click();
  await ben.getByTestId('connection').filter({ hasText: 'connected as web-ben' }).waitFor();

  // Each sees the other online (Ben from the list, Ann from the live delta).
  await ann.locator('li.user[data-user="web-ben"][data-online="true"]').waitFor();
  await ben.locator('li.user[data-user="web-ann"][data-online="true"]').waitFor();
  assert.equal(await ann.getByTestId('online-count').textContent(), '2');

  // A second device for Ann: still one user.
  await ann.getByTestId('second-device').click();
  await ann.getByTestId('devices').filter({ hasText: 'devices: 2' }).waitFor();

  // Check users from Ben's page.
  await ben.getByTestId('check-ids').fill('web-ann, web-nobody');
  await ben.getByTestId('check').click();
  await ben.locator('#results li[data-user="web-ann"][data-online="true"]').waitFor();
  await ben.locator('#results li[data-user="web-nobody"][data-online="false"]').waitFor();

  // Status change travels too.
  await ann.getByTestId('status').selectOption('busy');
  await ben.locator('li.user[data-user="web-ann"] .meta', { hasText: 'busy' }).waitFor();

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'web-two-users.png');
  await ann.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot));

  // Ben leaves: Ann's page shows him offline with a last-seen time.
  await ben.getByTestId('disconnect').click();
  const gone = ann.locator('li.user[data-user="web-ben"][data-online="false"]');
  await gone.waitFor();
  assert.match(await gone.locator('.meta').textContent(), /last seen/);
  assert.equal(await ann.getByTestId('online-count').textContent(), '1');
  // The event log shows the frames.
  assert.match(await ann.getByTestId('log').textContent(), /user\.status\.changed/);
  assert.deepEqual(errors, []);
  await ctx.close();
});
