import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { createFastify } from '../../src/app.js';
import errors from '../../src/plugins/errors.js';
import { encodeCursor } from '../../src/shared/pagination.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The edge of the HTTP API (issue 15, points 13–18 and 23): what a client that sends
 * bad bytes, bad numbers, bad dates or bad HTTP gets back — always a 4xx (or a
 * retryable 503) in application/problem+json with a `code`, naming the field — over a
 * real socket where the answer comes from Node's HTTP parser or Fastify's router.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends raw bytes on a fresh socket and reads until the server closes it. */
function rawRequest(port: number, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      if (!Number.isInteger(status)) {
        reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status, headers, body: rest.join('\r\n\r\n') });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', finish);
    // The server may reset a connection whose request it did not read to the end.
    socket.on('error', () => (chunks.length > 0 ? finish() : reject(new Error('connection failed before any response'))));
    socket.write(request);
  });
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${extra}\r\n`;

function problemIn(response: RawResponse) {
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/, `${response.status}: ${response.body.slice(0, 200)}`);
  const problem = JSON.parse(response.body.slice(0, Number(response.headers['content-length'] ?? response.body.length))) as {
    status: number;
    code: string;
    detail: string;
    requestId: string;
    errors?: { field: string; in?: string }[];
  };
  assert.equal(problem.status, response.status);
  assert.equal(typeof problem.requestId, 'string');
  return problem;
}

describe('the HTTP edge over a real socket', () => {
  let t: TestApp;
  let port: number;
  let token: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'edge.root', role: 'super_admin' });
    token = (await login(t.app, 'edge.root')).accessToken;
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  after(() => t.close());

  test('malformed percent-encoding or invalid UTF-8 in the path: 400 problem+json naming the path (FST_ERR_BAD_URL)', async () => {
    for (const path of ['/api/v1/schools/%E0%A4%A', '/api/v1/schools/%ED%A0%80', '/api/v1/students/%FF']) {
      const response = await rawRequest(port, get(path));
      assert.equal(response.status, 400, path);
      const problem = problemIn(response);
      assert.equal(problem.code, 'BAD_REQUEST');
      assert.deepEqual(problem.errors?.map((e) => [e.field, e.in]), [['path', 'path']]);
      assert.equal(response.headers['x-request-id'], problem.requestId);
    }
  });

  test('a 5 KB path id: 414 problem+json URI_TOO_LONG, whatever the method', async () => {
    const id = 'x'.repeat(5_000);
    for (const request of [get(`/api/v1/schools/${id}`), `DELETE /api/v1/schools/${id} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`]) {
      const response = await rawRequest(port, request);
      assert.equal(response.status, 414);
      assert.equal(problemIn(response).code, 'URI_TOO_LONG');
    }
  });

  test('a 100 KB query string (over the header limit of Node’s parser): 431 problem+json HEADERS_TOO_LARGE', async () => {
    const response = await rawRequest(port, get(`/api/v1/schools?q=${'a'.repeat(100_000)}`, `Authorization: Bearer ${token}\r\n`));
    assert.equal(response.status, 431);
    const problem = problemIn(response);
    assert.equal(problem.code, 'HEADERS_TOO_LARGE');
    assert.equal(response.headers.connection, 'close');
  });

  test('bytes that are not HTTP: 400 problem+json', async () => {
    const response = await rawRequest(port, 'HELLO THERE\r\n\r\n');
    assert.equal(response.status, 400);
    assert.equal(problemIn(response).code, 'BAD_REQUEST');
  });

  const post = (path: string, contentType: string | null, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${contentType ? `Content-Type: ${contentType}\r\n` : ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  test('a body over 1 MB: 413 problem+json', async () => {
    const response = await rawRequest(port, post('/api/v1/auth/login', 'application/json', JSON.stringify({ username: 'x', password: 'y'.repeat(2 * 1024 * 1024) })));
    assert.equal(response.status, 413);
    assert.equal(problemIn(response).code, 'PAYLOAD_TOO_LARGE');
  });

  test('an unsupported media type: 415 problem+json', async () => {
    const response = await rawRequest(port, post('/api/v1/auth/login', 'application/xml', '<login/>'));
    assert.equal(response.status, 415);
    assert.equal(problemIn(response).code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('invalid JSON, and an empty body declared as JSON: 400 problem+json', async () => {
    for (const body of ['{"username":', '']) {
      const response = await rawRequest(port, post('/api/v1/auth/login', 'application/json', body));
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(problemIn(response).code, 'BAD_REQUEST');
    }
  });

  test('a NUL byte in a path parameter: 400 naming it, over the wire too', async () => {
    const response = await rawRequest(port, get('/api/v1/schools/a%00b', `Authorization: Bearer ${token}\r\n`));
    assert.equal(response.status, 400);
    assert.deepEqual(problemIn(response).errors?.map((e) => [e.field, e.in]), [['id', 'params']]);
  });
});

describe('bad values at the edge name their field', () => {
  let t: TestApp;
  let token: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'edge.admin', role: 'super_admin' });
    token = (await login(t.app, 'edge.admin')).accessToken;
  });
  after(() => t.close());

  const get = (url: string) => t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: bearer(token) });

  test('Infinity, 1e400 and NaN on integer query parameters: 400 naming the parameter, never reaching the database', async () => {
    for (const [url, field] of [
      ['/reports/pending-payments/export?minAmount=1e400', 'minAmount'],
      ['/reports/pending-payments?minAmount=Infinity', 'minAmount'],
      ['/reports/transactions/failures?lastHours=1e400', 'lastHours'],
      ['/reports/invoices/overdue?minDaysOverdue=Infinity', 'minDaysOverdue'],
      ['/users?limit=-Infinity', 'limit'],
      ['/schools?limit=NaN', 'limit'],
    ] as const) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, url);
      const problem = problemOf(response);
      assert.equal(problem.code, 'VALIDATION_FAILED');
      assert.deepEqual(problem.errors?.map((e) => [e.field, e.in]), [[field, 'querystring']], url);
    }
  });

  test('a NUL byte or a lone surrogate in a query parameter: 400 naming it', async () => {
    for (const [url, field] of [
      ['/schools?q=a%00b', 'q'],
      ['/students?grade=%00', 'grade'],
      ['/reports/transactions/failures?failureCode=card%00declined', 'failureCode'],
    ] as const) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, url);
      assert.deepEqual(problemOf(response).errors?.map((e) => e.field), [field]);
    }
  });

  test('a NUL byte deep in a body and in a field name: 400 naming the dotted path', async () => {
    const nested = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(token), payload: { username: 'nul.user', password: 'a-long-password', role: 'developer', schoolIds: ['\u0000'] } });
    assert.equal(nested.statusCode, 400);
    assert.ok(problemOf(nested).errors?.some((e) => e.field === 'schoolIds.0'), nested.body);
    const key = await t.app.inject({ method: 'POST', url: '/api/v1/schools', headers: bearer(token), payload: { name: 'K', ['bad\u0000key']: 1 } });
    assert.equal(key.statusCode, 400);
    assert.deepEqual(problemOf(key).errors?.map((e) => e.field), ['bad\\u0000key']);
  });

  test('malformed cursors: 400 naming cursor on every kind of list', async () => {
    for (const url of [
      `/users?cursor=${encodeCursor(['not-a-uuid'])}`,
      `/schools?cursor=${encodeCursor(['not-a-uuid'])}`,
      `/invoices?cursor=${encodeCursor(['a\u0000b'])}`,
      `/payments?cursor=garbage`,
      `/transactions?cursor=${encodeCursor(['0000-01-01T00:00:00.000000Z', '00000000-0000-7000-8000-000000000000'])}`,
      `/reports/payments/history?cursor=${encodeCursor(['2026-02-30T00:00:00.000000Z', '00000000-0000-7000-8000-000000000000'])}`,
      `/reports/collections/daily?cursor=${encodeCursor(['0000-12-31', '00000000-0000-7000-8000-000000000000'])}`,
      `/reports/revenue/monthly?cursor=${encodeCursor(['0000-00', '00000000-0000-7000-8000-000000000000'])}`,
      `/reports/pending-payments?cursor=${Buffer.from('[1e400,1,1,1]').toString('base64url')}`,
    ]) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, url);
      const problem = problemOf(response);
      assert.deepEqual(problem.errors?.map((e) => [e.field, e.in]), [['cursor', 'querystring']], `${url}: ${response.body}`);
    }
  });

  test('dates outside 2000-01-01…2100-12-31, or not dates at all: 400 naming the field', async () => {
    const school = (await t.app.inject({ method: 'POST', url: '/api/v1/schools', headers: bearer(token), payload: { name: 'Fechas' } })).json<{ id: string }>();
    for (const [url, field] of [
      ['/invoices?dueFrom=0000-01-01', 'dueFrom'],
      ['/invoices?dueTo=2101-01-01', 'dueTo'],
      ['/payments?from=0001-01-01T00:00:00Z', 'from'],
      ['/transactions?to=1999-12-31T23:59:59Z', 'to'],
      [`/schools/${school.id}/statement?from=1999-12-31`, 'from'],
      ['/reports/dashboard?to=2026-13-45', 'to'],
      ['/reports/revenue/monthly?from=0000-01', 'from'],
    ] as const) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, url);
      assert.deepEqual(problemOf(response).errors?.map((e) => e.field), [field], url);
    }
    const student = await t.app.inject({
      method: 'POST',
      url: '/api/v1/students',
      headers: bearer(token),
      payload: { schoolId: school.id, firstName: 'Old', lastName: 'Date', grade: '1', enrolledAt: '0001-01-01' },
    });
    assert.equal(student.statusCode, 400);
    assert.deepEqual(problemOf(student).errors?.map((e) => e.field), ['enrolledAt']);
  });

  test('wrong JSON types are not coerced anywhere in a body: a school named 1e400, isActive 0, email ""', async () => {
    for (const [payload, field] of [
      [{ name: 1e300 }, 'name'],
      [{ name: 'Real', isActive: 0 }, 'isActive'],
      [{ name: 'Real', publicStatements: null }, 'publicStatements'],
      [{ name: 'Real', email: '' }, 'email'],
      [{ name: ['Real'] }, 'name'],
    ] as const) {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/schools', headers: bearer(token), payload });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(problemOf(response).errors?.map((e) => e.field), [field], JSON.stringify(payload));
    }
    const infinite = await t.app.inject({ method: 'POST', url: '/api/v1/schools', headers: { ...bearer(token), 'content-type': 'application/json' }, payload: '{"name":1e400}' });
    assert.equal(infinite.statusCode, 400);
    assert.equal(problemOf(infinite).errors?.[0]?.field, 'name');
    const stored = await t.db.selectFrom('schools').select('name').where('name', 'in', ['Infinity', '1e+300', 'Real']).execute();
    assert.deepEqual(stored, []);
  });

  test('querystrings still parse numbers and booleans', async () => {
    const response = await get('/students?limit=2&isActive=true');
    assert.equal(response.statusCode, 200, response.body);
  });
});

describe('database errors at the edge (the error handler, on real PostgreSQL errors)', () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  const captured: { terminated?: Error; dropped?: Error; refused?: Error } = {};

  before(async () => {
    database = await createTestDatabase();
    // A backend terminated by an operator (pg_terminate_backend, a failover): the query
    // in flight fails with 57P01, then the client sees its connection end.
    const victim = new pg.Client({ connectionString: database.url });
    await victim.connect();
    const dropped = new Promise<Error>((resolve) => victim.on('error', resolve));
    const pid = (await victim.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    const sleeping = victim.query('select pg_sleep(30)').then(
      () => new Error('the query was not terminated'),
      (error: unknown) => error as Error,
    );
    const killer = new pg.Client({ connectionString: database.url });
    await killer.connect();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await killer.query('select pg_terminate_backend($1)', [pid]);
    await killer.end();
    captured.terminated = await sleeping;
    captured.dropped = await dropped;
    // A server that is not there.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const nowhere = new pg.Client({ connectionString: `postgres://x@127.0.0.1:${closedPort}/x`, connectionTimeoutMillis: 2_000 });
    captured.refused = await nowhere.connect().then(
      () => new Error('connected to nothing?'),
      (error: unknown) => error as Error,
    );

    const { loadConfig } = await import('../../src/config.js');
    app = createFastify(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: database.url }), false);
    await app.register(errors);
    const rethrow = (error: Error | undefined) => () => {
      throw error ?? new Error('not captured');
    };
    app.get('/terminated', rethrow(captured.terminated));
    app.get('/dropped', rethrow(captured.dropped));
    app.get('/refused', rethrow(captured.refused));
    // Routes without a schema: the guard does not see their input, PostgreSQL does.
    const query = async (text: string, values: unknown[]) => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        return (await client.query<Record<string, unknown>>(text, values)).rows;
      } finally {
        await client.end();
      }
    };
    app.post('/unguarded', async (request) => query('select $1::text as note', [(request.body as { note: string }).note]));
    app.get('/unguarded', async (request) => query('select $1::uuid as ref', [(request.query as { ref: string }).ref]));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await database.drop();
  });

  test('the captured errors are what node-postgres really throws', () => {
    assert.equal((captured.terminated as { code?: string }).code, '57P01');
    assert.match(captured.dropped?.message ?? '', /Connection terminated unexpectedly/);
    assert.equal((captured.refused as { code?: string }).code, 'ECONNREFUSED');
  });

  test('"terminating connection due to administrator command" (57P01), a dropped connection, a refused one: 503 problem+json with Retry-After', async () => {
    for (const url of ['/terminated', '/dropped', '/refused']) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 503, `${url}: ${response.body}`);
      const problem = problemOf(response);
      assert.equal(problem.code, 'SERVICE_UNAVAILABLE');
      assert.ok(Number(response.headers['retry-after']) > 0);
      assert.doesNotMatch(problem.detail, /administrator|terminated|ECONNREFUSED/i, 'no internals');
    }
  });

  test('a NUL byte that reaches PostgreSQL anyway (22021) is a 400 naming the field', async () => {
    const response = await app.inject({ method: 'POST', url: '/unguarded', payload: { note: 'a\u0000b' } });
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [['note', 'body']]);
  });

  test('a malformed value that reaches PostgreSQL anyway (22P02) is a 400 naming the field whose value it quotes', async () => {
    const response = await app.inject({ method: 'GET', url: '/unguarded?ref=not-a-uuid' });
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [['ref', 'querystring']]);
  });
});

describe('a request that arrives while the server drains', () => {
  test('is a 503 problem+json with Retry-After and Connection: close, not Fastify’s plain JSON', async () => {
    const database = await createTestDatabase();
    const { loadConfig } = await import('../../src/config.js');
    const app = createFastify(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: database.url }), false);
    // Node closes idle and finished keep-alive connections itself; a request still reaches
    // Fastify's handler during the drain on HTTP/2 or through a proxying server. This
    // plain server hands its requests to Fastify's handler, as such a path would.
    const side = http.createServer();
    try {
      await app.register(errors);
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started: () => void = () => undefined;
      const slowStarted = new Promise<void>((resolve) => {
        started = resolve;
      });
      app.get('/slow', async () => {
        started();
        await gate;
        return { ok: true };
      });
      app.get('/fast', () => ({ ok: true }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as net.AddressInfo).port;
      const [handler] = app.server.listeners('request') as ((req: http.IncomingMessage, res: http.ServerResponse) => void)[];
      side.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => handler?.(req, res));
      await new Promise<void>((resolve) => side.listen(0, '127.0.0.1', resolve));
      const sidePort = (side.address() as net.AddressInfo).port;

      const before = await rawRequest(sidePort, get('/fast'));
      assert.equal(before.status, 200, 'the side door reaches the app');
      const slow = rawRequest(port, get('/slow'));
      await slowStarted;
      const closing = app.close(); // drains: waits for /slow
      const during = await rawRequest(sidePort, get('/fast'));
      release();
      assert.equal((await slow).status, 200, 'the request in flight finishes');
      await closing;
      assert.equal(during.status, 503);
      const problem = problemIn(during);
      assert.equal(problem.code, 'SERVICE_UNAVAILABLE');
      assert.ok(Number(during.headers['retry-after']) > 0);
      assert.equal(during.headers.connection, 'close');
    } finally {
      side.close();
      await app.close();
      await database.drop();
    }
  });
});
