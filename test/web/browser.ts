import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, login, PASSWORD, type TestApp } from '../helpers/app.js';

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
export async function startWebSession(prepare: (t: TestApp) => Promise<void>, options: { demo?: boolean; env?: Record<string, string> } = {}): Promise<WebSession> {
  await ensureWebBuilt();
  // A port known before the app is made, so PUBLIC_URL (pay links, the gateway's return URLs) is this server.
  const port = await freePort();
  const t = await createTestApp({ env: { ...options.env, PUBLIC_URL: `http://127.0.0.1:${port}` }, demo: options.demo ?? false });
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
    await t.app.listen({ port, host: '127.0.0.1' });
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** axe-core's browser build, injected into pages by `axeViolations`. */
const AXE_SOURCE = path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (every rule it enables by default: WCAG 2.x A/AA and best practices) on
 * the page as it is and returns the violations, each with up to five offending nodes.
 * The context needs `bypassCSP: true`: the app's CSP forbids the injected script.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // Browser-side code is passed as text: this tsconfig has no DOM types.
  if (!(await page.evaluate<boolean>("'axe' in window"))) {
    await page.addScriptTag({ path: AXE_SOURCE });
  }
  return page.evaluate<AxeViolation[]>(`(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.slice(0, 5).map((node) => node.target.join(' ') + ' — ' + (node.failureSummary || '').replace(/\\s+/g, ' ')),
    }));
  })()`);
}

/** The page's width against the viewport's, and the elements that stick out (when any). */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; culprits: string[] }> {
  return page.evaluate<{ scrollWidth: number; innerWidth: number; culprits: string[] }>(`(() => {
    const innerWidth = window.innerWidth;
    const culprits = [];
    for (const element of document.querySelectorAll('body *')) {
      const box = element.getBoundingClientRect();
      if (box.width > 0 && box.right > innerWidth + 1 && culprits.length < 5) {
        culprits.push(element.tagName.toLowerCase() + '.' + String(element.getAttribute('class') || '').slice(0, 80) + ' (right edge ' + Math.round(box.right) + ')');
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, culprits };
  })()`);
}

/**
 * A page is ready to be judged when its heading is shown, nothing is loading (no
 * skeleton, no spinner, no request in flight) and the charts have had a frame to draw.
 */
export async function settle(page: Page): Promise<void> {
  await page.locator('h1').first().waitFor();
  await page.waitForLoadState('networkidle');
  await page.waitForFunction(`!document.querySelector('[aria-label="Loading"], [role="status"] .animate-spin')`);
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
}

/** The two sizes every page is judged at: a phone and a desktop. */
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };

/**
 * Signs `username` in on a new desktop-sized context (CSP bypassed for axe-core,
 * downloads accepted) and waits for the shell; `errors` collects uncaught page errors.
 */
export async function signIn(web: WebSession, username: string, options: BrowserContextOptions = {}): Promise<{ page: Page; errors: string[] }> {
  const context = await web.newContext({ viewport: DESKTOP, bypassCSP: true, acceptDownloads: true, ...options });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Password').press('Enter');
  // Signed in: the shell's Sign out button (the login page has a <main> and an <h1> too).
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { page, errors };
}

/** An API client signed in as `username` (the demo users share PASSWORD). */
export async function apiAs(t: TestApp, username: string): Promise<Client> {
  return client(t.app, (await login(t.app, username)).accessToken);
}

/**
 * The page as it is, at 390 px and at 1440 px: no wider than the viewport, zero axe
 * violations at 390, a tab titled "<page> · Bursar", and a full-page screenshot of
 * each (`<dir>/<name>-<width>.png`). Returns the problems found, for one assert.
 */
export async function judge(page: Page, name: string, dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [viewport, width] of [[PHONE, 390], [DESKTOP, 1440]] as const) {
    await page.setViewportSize(viewport);
    await settle(page);
    const overflow = await horizontalOverflow(page);
    if (overflow.scrollWidth > overflow.innerWidth) {
      problems.push(`${name} at ${width} px is ${overflow.scrollWidth} px wide: ${overflow.culprits.join(', ')}`);
    }
    if (width === 390) {
      problems.push(...(await axeViolations(page)).map((v) => `${name}: ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`));
    }
    if (!/\S · Bursar$/.test(await page.title())) {
      problems.push(`${name}: tab titled "${await page.title()}"`);
    }
    await page.screenshot({ path: path.join(dir, `${name}-${width}.png`), fullPage: true });
  }
  return problems;
}

/** A web session on the demo data (seedDemoData, every demo user with PASSWORD; a copy of the run's demo template). */
export function startDemoWebSession(): Promise<WebSession> {
  return startWebSession(() => Promise.resolve(), { demo: true });
}

/** The id of a demo school by name, as `api` sees it. */
export async function schoolIdByName(api: Client, name: string): Promise<string> {
  const school = (await api.get('/schools?limit=100')).json<{ data: { id: string; name: string }[] }>().data.find((s) => s.name === name);
  if (!school) {
    throw new Error(`no school named ${name}`);
  }
  return school.id;
}
