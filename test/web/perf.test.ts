import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { MIN_COMPRESSED_BYTES, negotiateEncoding } from '../../src/plugins/compression.js';
import { client } from '../helpers/api.js';
import { createTestApp, login, PASSWORD, type TestApp } from '../helpers/app.js';
import { browserUnavailable, ROOT, startDemoWebSession, type WebSession } from './browser.js';

/**
 * What makes the dashboard fast on a phone, checked over real HTTP against the built
 * web/dist: precompressed files sent when the browser accepts them (and byte-identical
 * once decompressed), caching that lets a browser keep hashed assets for a year and
 * always revalidate index.html, no public source maps, and a login page that loads no
 * chart code (each page is its own chunk; recharts only in the chart pages' chunk).
 * The scores themselves are measured by `npm run lighthouse`, not here.
 */
const skip = browserUnavailable();
const DIST = path.join(ROOT, 'web', 'dist');

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET with exactly these headers, body as sent (fetch would add Accept-Encoding and decompress). */
function get(base: string, pathname: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(pathname, base), { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

function decoded(response: { headers: Record<string, unknown>; body: Buffer }): Buffer {
  switch (response.headers['content-encoding']) {
    case 'br':
      return brotliDecompressSync(response.body);
    case 'gzip':
      return gunzipSync(response.body);
    case undefined:
      return response.body;
    default:
      throw new Error(`unexpected content-encoding ${String(response.headers['content-encoding'])}`);
  }
}

const distFile = (urlPath: string) => readFileSync(path.join(DIST, urlPath));

/** The /assets files index.html loads before any script runs: its module script, modulepreloads and stylesheets. */
function referencedByIndex(): string[] {
  const html = distFile('index.html').toString('utf8');
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1] as string);
}

/** A built script that holds recharts (its components render `recharts-wrapper`). */
const isChartCode = (urlPath: string) => distFile(urlPath).toString('utf8').includes('recharts-wrapper');

describe('the dashboard is fast on a phone', { skip: skip ?? false }, () => {
  let web: WebSession;
  let base: string;

  before(async () => {
    web = await startDemoWebSession();
    ({ base } = web);
  });

  after(() => web?.close());

  test('index.html and the assets it loads are sent brotli- or gzip-compressed when accepted, byte-identical once decompressed', async () => {
    const assets = referencedByIndex();
    assert.ok(assets.some((asset) => asset.endsWith('.js')) && assets.some((asset) => asset.endsWith('.css')), `index.html loads a script and a stylesheet: ${assets.join(', ')}`);
    const types: Record<string, RegExp> = { '.js': /^(?:text|application)\/javascript; charset=utf-8$/, '.css': /^text\/css; charset=utf-8$/, '.html': /^text\/html; charset=utf-8$/ };
    const cases = [
      { accept: 'br', encoding: 'br' },
      { accept: 'gzip', encoding: 'gzip' },
      // What Chromium sends: brotli wins.
      { accept: 'gzip, deflate, br, zstd', encoding: 'br' },
      { accept: 'br;q=0.5, gzip;q=1', encoding: 'gzip' },
      // Nothing accepted, or only what we do not have: the file itself.
      { accept: '', encoding: undefined },
      { accept: 'identity', encoding: undefined },
      { accept: 'deflate', encoding: undefined },
    ];
    for (const [urlPath, file] of [['/', '/index.html'], ['/pending', '/index.html'], ...assets.map((asset) => [asset, asset])] as [string, string][]) {
      const original = distFile(file);
      for (const { accept, encoding } of cases) {
        const response = await get(base, urlPath, accept ? { 'accept-encoding': accept } : {});
        const what = `${urlPath} with Accept-Encoding "${accept}"`;
        assert.equal(response.status, 200, what);
        assert.equal(response.headers['content-encoding'], encoding, what);
        assert.match(response.headers['content-type'] ?? '', types[path.extname(file)] as RegExp, what);
        assert.match(String(response.headers.vary), /accept-encoding/i, what);
        if (encoding) {
          assert.ok(response.body.length < original.length, `${what}: ${response.body.length} bytes sent for ${original.length}`);
        }
        assert.ok(decoded(response).equals(original), `${what}: the decompressed body is the file`);
      }
    }
  });

  test('a file too small to be worth compressing is sent as it is, whatever is accepted', async () => {
    const response = await get(base, '/favicon.svg', { 'accept-encoding': 'br, gzip' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-encoding'], undefined);
    assert.match(response.headers['content-type'] ?? '', /^image\/svg\+xml/);
    assert.ok(response.body.equals(distFile('/favicon.svg')));
  });

  test('hashed assets are cached for a year as immutable, compressed or not; index.html is revalidated on every load', async () => {
    for (const asset of referencedByIndex()) {
      assert.match(asset, /-[\w-]{8,}\.(?:js|css)$/, `${asset} is named by its content hash`);
      for (const accept of ['br', 'gzip', '']) {
        const response = await get(base, asset, accept ? { 'accept-encoding': accept } : {});
        assert.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable', `${asset} (${accept || 'identity'})`);
      }
    }
    for (const urlPath of ['/', '/login', '/pending', '/schools/some/client/route', '/index.html']) {
      for (const accept of ['br', '']) {
        const response = await get(base, urlPath, accept ? { 'accept-encoding': accept } : {});
        assert.equal(response.status, 200, urlPath);
        assert.match(response.body.length > 0 ? decoded(response).toString('utf8') : '', /<div id="root">/, urlPath);
        assert.equal(response.headers['cache-control'], 'no-cache', `${urlPath} (${accept || 'identity'})`);
      }
    }
  });

  test('source maps are not served, nor named in the scripts; compressed copies are only served through Accept-Encoding', async () => {
    const files = readdirSync(path.join(DIST, 'assets'));
    const maps = files.filter((file) => file.endsWith('.map'));
    assert.ok(maps.length > 0, 'the build keeps its source maps on disk (sourcemap: hidden)');
    for (const map of maps) {
      const response = await get(base, `/assets/${map}`);
      assert.equal(response.status, 404, map);
      assert.match(response.headers['content-type'] ?? '', /problem\+json/, map);
    }
    for (const script of files.filter((file) => file.endsWith('.js'))) {
      assert.doesNotMatch(readFileSync(path.join(DIST, 'assets', script), 'utf8'), /sourceMappingURL/, `${script} names no source map`);
    }
    const compressed = files.filter((file) => file.endsWith('.br') || file.endsWith('.gz'));
    assert.ok(compressed.length > 0, 'the build writes .br and .gz copies');
    for (const file of compressed.slice(0, 4)) {
      assert.equal((await get(base, `/assets/${file}`)).status, 404, file);
    }
  });

  test('the login page loads no chart code; the Overview loads it when shown', async () => {
    const scripts = readdirSync(path.join(DIST, 'assets')).filter((file) => file.endsWith('.js'));
    const chartChunks = scripts.filter((file) => isChartCode(`/assets/${file}`));
    assert.ok(chartChunks.length > 0, 'recharts is in the build');

    // What index.html makes every page download before any code runs.
    for (const asset of referencedByIndex()) {
      assert.ok(!chartChunks.includes(path.basename(asset)), `index.html loads ${asset}, which holds recharts`);
    }

    // What the login page downloads in a browser, until it is ready to use.
    const context = await web.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith('/assets/')) {
        requested.push(url.pathname);
      }
    });
    await page.goto('/login', { waitUntil: 'networkidle' });
    await page.getByLabel('Username').waitFor();
    const loginScripts = requested.filter((file) => file.endsWith('.js'));
    assert.ok(loginScripts.length > 0, 'the login page loads scripts');
    assert.deepEqual(
      loginScripts.filter((file) => chartChunks.includes(path.basename(file))),
      [],
      `the login page loaded ${loginScripts.join(', ')}`,
    );

    // Signing in shows the Overview, whose chart needs recharts: it is fetched when the
    // chart is about to be seen (below the fold on a phone).
    await page.getByLabel('Username').fill('super.admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    const chartCard = page.getByRole('table', { name: 'Payments by method' });
    await chartCard.scrollIntoViewIfNeeded();
    await page.locator('.recharts-wrapper').first().waitFor();
    const overviewCharts = requested.filter((file) => chartChunks.includes(path.basename(file)));
    assert.ok(overviewCharts.length > 0, `the Overview loaded ${requested.join(', ')}`);
  });
});

describe('JSON answers are compressed; streams are not', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;

  before(async () => {
    t = await createTestApp({ demo: true });
    api = client(t.app, (await login(t.app, 'super.admin')).accessToken);
  });

  after(() => t?.close());

  const raw = async (url: string, acceptEncoding?: string) => {
    const response = await api.get(url, acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding });
    return { status: response.statusCode, headers: response.headers, body: response.rawPayload };
  };

  test('a page of the pending report is sent brotli- or gzip-compressed when accepted, the same JSON once decompressed', async () => {
    const plain = await raw('/reports/pending-payments?limit=50');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(String(plain.headers.vary), /accept-encoding/i, 'caches learn that the answer depends on Accept-Encoding');
    assert.ok(plain.body.length >= MIN_COMPRESSED_BYTES, `the page is ${plain.body.length} bytes`);
    const expected = JSON.parse(plain.body.toString('utf8')) as { data: unknown[] };
    assert.ok(expected.data.length > 0);
    for (const [accept, encoding] of [
      ['br', 'br'],
      ['gzip', 'gzip'],
      ['gzip, deflate, br, zstd', 'br'],
      ['br;q=0, gzip', 'gzip'],
      ['identity', undefined],
    ] as const) {
      const response = await raw('/reports/pending-payments?limit=50', accept);
      assert.equal(response.status, 200, accept);
      assert.equal(response.headers['content-encoding'], encoding, accept);
      assert.match(String(response.headers['content-type']), /^application\/json/, accept);
      assert.match(String(response.headers.vary), /accept-encoding/i, accept);
      if (encoding) {
        assert.ok(response.body.length * 3 < plain.body.length, `${accept}: ${response.body.length} bytes for ${plain.body.length}`);
        assert.equal(Number(response.headers['content-length']), response.body.length, `${accept}: content-length is the compressed size`);
      }
      const body = JSON.parse(decoded(response).toString('utf8')) as { data: unknown[] };
      // Same rows; generatedAt-like fields aside, the report is a pure read.
      assert.deepEqual(body.data, expected.data, accept);
    }
  });

  test('small answers and problem+json under 1 KiB are sent as they are', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/health', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(health.headers['content-encoding'], undefined);
    const problem = await raw('/reports/pending-payments?limit=nope', 'br, gzip');
    assert.equal(problem.status, 400);
    assert.equal(problem.headers['content-encoding'], undefined);
    assert.match(String(problem.headers['content-type']), /problem\+json/);
  });

  test('a CSV export (a stream) is never compressed or buffered by the server, whatever is accepted', async () => {
    const plain = await raw('/reports/pending-payments/export?format=csv');
    const accepted = await raw('/reports/pending-payments/export?format=csv', 'br, gzip');
    assert.equal(accepted.status, 200);
    assert.equal(accepted.headers['content-encoding'], undefined);
    assert.match(String(accepted.headers['content-type']), /^text\/csv/);
    assert.ok(accepted.body.length > MIN_COMPRESSED_BYTES);
    assert.equal(accepted.body.toString('utf8'), plain.body.toString('utf8'));
  });

  test('Accept-Encoding negotiation follows q-values and *', () => {
    const cases: [string | undefined, 'br' | 'gzip' | null][] = [
      [undefined, null],
      ['', null],
      ['identity', null],
      ['deflate', null],
      ['gzip', 'gzip'],
      ['GZIP', 'gzip'],
      ['br', 'br'],
      ['gzip, deflate, br, zstd', 'br'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=0, gzip;q=0', null],
      ['*', 'br'],
      ['*;q=0, gzip', 'gzip'],
      ['br;q=0, *', 'gzip'],
      ['gzip;q=abc', null],
    ];
    for (const [header, expected] of cases) {
      assert.equal(negotiateEncoding(header), expected, String(header));
    }
  });
});
