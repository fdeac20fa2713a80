import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import { createTestApp, type TestApp } from '../helpers/app.js';

/**
 * Browser-test plumbing: Debian's Chromium (`apt-get install chromium`; .ci/run does
 * it) driven by playwright-core, and a web build that is current with web/src.
 */
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const DIST_INDEX = path.join(ROOT, 'web', 'dist', 'index.html');

/** Why the browser tests cannot run here, or null. In CI a missing Chromium is a failure, not a skip. */
export function browserUnavailable(): string | null {
  if (existsSync(CHROMIUM)) {
    return null;
  }
  const reason = `${CHROMIUM} not found: install it with "apt-get install -y chromium" (or set CHROMIUM_PATH)`;
  if (process.env.CI) {
    throw new Error(reason);
  }
  return reason;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * Builds web/dist when it is missing or older than any file in web/src, index.html or
 * vite.config.ts — so the tests never run against a stale dashboard. Test files run in
 * parallel, so the build is guarded by a lock directory (mkdir is atomic); a second
 * file waits for the first one's build instead of starting its own.
 */
export async function ensureWebBuilt(): Promise<void> {
  const sources = Math.max(newestMtime(path.join(ROOT, 'web', 'src')), ...['index.html', 'vite.config.ts'].map((f) => statSync(path.join(ROOT, 'web', f)).mtimeMs));
  const fresh = () => existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sources;
  if (fresh()) {
    return;
  }
  const lock = path.join(ROOT, 'web', '.build-lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another file is building: wait for it (or for a lock left by a crash to age out).
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 180_000) {
        rmSync(lock, { recursive: true, force: true });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (fresh()) {
        return;
      }
    }
  }
  try {
    if (!fresh()) {
      const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web', '--logLevel', 'error'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (result.status !== 0) {
        throw new Error(`vite build failed:\n${result.stdout}\n${result.stderr}`);
      }
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** A browser test's world: the real app on a real socket, on its own database, and a Chromium. */
export interface WebSession {
  t: TestApp;
  /** http://127.0.0.1:<port> */
  base: string;
  /** A desktop-sized context on the app (closed with the session). */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Builds the dashboard if needed, starts the app (after `prepare` filled its database) and the browser. */
export async function startWebSession(prepare: (t: TestApp) => Promise<void>): Promise<WebSession> {
  await ensureWebBuilt();
  const t = await createTestApp();
  const contexts: BrowserContext[] = [];
  let browser: Browser | undefined;
  const close = async () => {
    for (const context of contexts) {
      await context.close().catch(() => undefined);
    }
    await browser?.close();
    await t.close();
  };
  try {
    await prepare(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchBrowser();
  } catch (error) {
    await close();
    throw error;
  }
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const running = browser;
  return {
    t,
    base,
    async newContext(options = {}) {
      const context = await running.newContext({ baseURL: base, viewport: { width: 1360, height: 900 }, ...options });
      contexts.push(context);
      return context;
    },
    close,
  };
}
