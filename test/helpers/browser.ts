import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, offline (scripts/install-system-packages.sh installs it). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(EXECUTABLE))
    throw new Error(`${EXECUTABLE} is missing: run scripts/install-system-packages.sh`);
  return chromium.launch({
    executablePath: EXECUTABLE,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
