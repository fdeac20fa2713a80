import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { loggerOptions, redactUrl } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { compactLogDestination, formatLogLine } from '../../src/plugins/request-log.js';
import { bearer, createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The request log: one line per request when it completes (method, redacted URL,
 * status, time, request id), not Fastify's "incoming request" + "request completed"
 * pair; WebSocket handshakes logged once when their connection ends; and in development
 * on a terminal, each line printed short.
 */
interface Line {
  level: number;
  msg: string;
  requestId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
}

describe('request log', () => {
  let t: TestApp;
  let token: string;
  const lines: Line[] = [];
  const of = (id: string) => lines.filter((line) => line.requestId === id);

  before(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) {
          lines.push(JSON.parse(text) as Line);
        }
        done();
      },
    });
    t = await createTestApp({ logger: { level: 'info', stream } });
    await insertUser(t.db, { username: 'log.reader', role: 'super_admin' });
    token = (await login(t.app, 'log.reader')).accessToken;
  });
  after(() => t.close());

  test('one line per request, on completion: method, URL, status, time and request id', async () => {
    const ok = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { ...bearer(token), 'x-request-id': 'one-line-ok' } });
    assert.equal(ok.statusCode, 200);
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/no-such-route?x=1', headers: { 'x-request-id': 'one-line-404' } });
    assert.equal(missing.statusCode, 404);

    const [line, ...more] = of('one-line-ok');
    assert.deepEqual(more, [], 'exactly one line for the request');
    assert.equal(line?.msg, 'request completed');
    assert.equal(line?.level, 30);
    assert.deepEqual([line?.req?.method, line?.req?.url, line?.res?.statusCode], ['GET', '/api/v1/auth/me', 200]);
    assert.equal(typeof line?.responseTime, 'number');

    const notFound = of('one-line-404');
    assert.equal(notFound.length, 1, JSON.stringify(notFound));
    assert.deepEqual([notFound[0]?.req?.url, notFound[0]?.res?.statusCode], ['/api/v1/no-such-route?x=1', 404]);

    assert.equal(lines.filter((l) => l.msg === 'incoming request').length, 0, 'no "incoming request" lines');
  });

  test('probes and scrapes are not logged', async () => {
    await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'probe-1' } });
    await t.app.inject({ method: 'GET', url: '/metrics', headers: { 'x-request-id': 'scrape-1' } });
    assert.deepEqual([...of('probe-1'), ...of('scrape-1')], []);
  });

  test('a WebSocket connection is one line, status 101, when it closes; its token is redacted', async () => {
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(token)}`, { headers: { 'x-request-id': 'ws-line-1' } });
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve()); // the hello: connected
      socket.once('error', reject);
    });
    assert.deepEqual(of('ws-line-1'), [], 'nothing while it is open');
    socket.close();
    await waitFor('the connection line', () => of('ws-line-1').length > 0);
    const [line, ...more] = of('ws-line-1');
    assert.deepEqual(more, []);
    assert.equal(line?.res?.statusCode, 101);
    assert.equal(line?.req?.url, '/api/v1/live?token=[redacted]');
    assert.ok(!JSON.stringify(lines).includes(token), 'the token never reaches the log');
  });

  test('credentials in URLs never reach the log: access tokens, portal invitations, pay-link tokens', () => {
    assert.equal(redactUrl('/api/v1/live?token=abc.def&x=1'), '/api/v1/live?token=[redacted]&x=1');
    assert.equal(redactUrl('/portal/welcome?invitation=Zm9vYmFy_-&lang=es'), '/portal/welcome?invitation=[redacted]&lang=es');
    assert.equal(redactUrl('/pay/AQGiQywOw3M4s1hpYD_P_59p2D1_BoiObFQJ3pFcdbccU7c_OQ'), '/pay/[redacted]');
    assert.equal(redactUrl('/api/v1/pay-links/AQGiQywOw3M4s1hpYD_P_59p2D1_BoiObFQJ3pFcdbccU7c_OQ?x=1'), '/api/v1/pay-links/[redacted]?x=1');
    assert.equal(redactUrl('/api/v1/invoices/123/pay-link'), '/api/v1/invoices/123/pay-link', 'creating a link is not a credential');
  });

  test('in development on a terminal each line is printed short and readable; JSON otherwise', () => {
    const development = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'info' });
    const written: string[] = [];
    const terminal = { isTTY: true, write: (text: string) => written.push(text) };
    const pretty = loggerOptions(development, undefined, terminal) as { stream?: { write(line: string): void } };
    assert.ok(pretty.stream, 'a readable destination on a terminal in development');
    pretty.stream.write(`${JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5), requestId: 'abc-123', req: { method: 'GET', url: '/api/v1/invoices?limit=50' }, res: { statusCode: 200 }, responseTime: 12.4, msg: 'request completed' })}\n`);
    assert.equal(written.length, 1);
    // eslint-disable-next-line no-control-regex
    const plain = (written[0] ?? '').replace(/\u001b\[\d+m/g, '');
    assert.match(plain, /^\d\d:\d\d:\d\d {2}INFO {3}GET \/api\/v1\/invoices\?limit=50 {2}200 {2}12 ms {2}abc-123\n$/);

    assert.equal((loggerOptions(development, undefined, { isTTY: false, write: () => true }) as { stream?: unknown }).stream, undefined, 'piped: JSON lines');
    const production = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'info', JWT_SECRET: 'x'.repeat(40) });
    assert.equal((loggerOptions(production, undefined, terminal) as { stream?: unknown }).stream, undefined, 'production: JSON lines');
  });

  test('other lines: message, fields, the error and, for errors, its stack; anything not JSON passes through', () => {
    const warn = formatLogLine(JSON.stringify({ level: 40, time: 0, msg: 'live: LISTEN connection lost; reconnecting', err: { message: 'terminated', stack: 'Error: terminated\n    at x' } }));
    assert.match(warn, /WARN {3}live: LISTEN connection lost; reconnecting {2}err="terminated"$/);
    const error = formatLogLine(JSON.stringify({ level: 50, time: 0, msg: 'request failed', requestId: 'r-1', err: { message: 'boom', stack: 'Error: boom\n    at y' } }));
    assert.match(error, /ERROR {2}request failed {2}err="boom" {2}r-1\n {4}Error: boom\n {8}at y$/);
    const fields = formatLogLine(JSON.stringify({ level: 30, time: 0, pid: 1, hostname: 'h', msg: 'sync pass', feed: 'live', pages: 3 }));
    assert.match(fields, /INFO {3}sync pass {2}feed=live pages=3$/);
    assert.equal(formatLogLine('not json'), 'not json');
    const out: string[] = [];
    compactLogDestination({ write: (text: string) => out.push(text) }).write(`${JSON.stringify({ level: 30, time: 0, msg: 'a' })}\n${JSON.stringify({ level: 30, time: 0, msg: 'b' })}\n`);
    assert.equal(out.length, 2);
  });
});
