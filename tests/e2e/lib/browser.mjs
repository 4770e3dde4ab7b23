// Headless Debian chromium for the page's tests, driven by playwright-core.

import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Where screenshots are kept as test artifacts. */
export const ARTIFACTS = process.env.PRESENCE_ARTIFACTS
  ?? new URL('../../../build/test-artifacts', import.meta.url).pathname;

/** Why a page test is skipped when there is no browser. */
export const NO_BROWSER = `no browser at ${CHROMIUM} (scripts/deps.sh test installs Debian's chromium)`;

/** Launches chromium headless, or resolves null if it is not installed. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) return null;
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Closed network here: no background traffic; no sandbox as root.
    // Playwright gives the browser a fresh temporary profile.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
  });
}
