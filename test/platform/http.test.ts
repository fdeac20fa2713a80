import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

describe('HTTP platform', () => {
  let t: TestApp;
  let token: string;
  const logLines: Record<string, unknown>[] = [];

  before(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    t = await createTestApp({ logger: { level: 'info', stream } });
    await insertUser(t.db, { username: 'root.admin', role: 'super_admin' });
    token = (await login(t.app, 'root.admin')).accessToken;
  });
  after(() => t.close());

  describe('problem details', () => {
    test('validation errors are 400 problem+json naming every bad field', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers: bearer(token),
        payload: { username: 'ok.name', password: 'short', role: 'boss', surprise: true },
      });
      assert.equal(response.statusCode, 400);
      const problem = problemOf(response);
      assert.equal(problem.status, 400);
      assert.equal(problem.code, 'VALIDATION_FAILED');
      assert.equal(problem.title, 'Bad Request');
      assert.equal(problem.type, '/problems/validation-failed');
      assert.equal(problem.requestId, response.headers['x-request-id']);
      const fields = Object.fromEntries((problem.errors ?? []).map((e) => [e.field, e.message]));
      assert.deepEqual(Object.keys(fields).sort(), ['password', 'role', 'surprise']);
      assert.match(fields.role ?? '', /one of: super_admin, school_admin, finance_analyst, developer/);
      assert.equal(fields.surprise, 'is not a known field');
      assert.match(problem.detail, /password/);
    });

    test('a missing required field is named', async () => {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x' } });
      const problem = problemOf(response);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(problem.errors, [{ field: 'password', in: 'body', message: 'is required' }]);
    });

    test('query and path parameters are validated too', async () => {
      const bad = await t.app.inject({ method: 'GET', url: '/api/v1/users?limit=501', headers: bearer(token) });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(problemOf(bad).errors?.map((e) => [e.field, e.in]), [['limit', 'querystring']]);
      const badId = await t.app.inject({ method: 'GET', url: '/api/v1/users/not-a-uuid', headers: bearer(token) });
      assert.equal(badId.statusCode, 400);
      assert.deepEqual(problemOf(badId).errors?.map((e) => [e.field, e.in]), [['id', 'params']]);
      const badCursor = await t.app.inject({ method: 'GET', url: '/api/v1/users?cursor=garbage', headers: bearer(token) });
      assert.equal(badCursor.statusCode, 400);
      assert.equal(problemOf(badCursor).errors?.[0]?.field, 'cursor');
    });

    test('malformed JSON, wrong media type and oversized bodies are 4xx, never 500', async () => {
      const json = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username":' });
      assert.equal(json.statusCode, 400);
      assert.equal(problemOf(json).code, 'BAD_REQUEST');
      const media = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/xml' }, payload: '<login/>' });
      assert.equal(media.statusCode, 415);
      assert.equal(problemOf(media).code, 'UNSUPPORTED_MEDIA_TYPE');
      const big = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ username: 'x', password: 'y'.repeat(2 * 1024 * 1024) }),
      });
      assert.equal(big.statusCode, 413);
      assert.equal(problemOf(big).code, 'PAYLOAD_TOO_LARGE');
    });

    test('unknown routes are a 404 problem', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
      assert.equal(response.statusCode, 404);
      assert.equal(problemOf(response).code, 'NOT_FOUND');
    });

    test('a database constraint error becomes a 409 naming the field', async () => {
      const body = { username: 'twice', password: 'a-long-password', role: 'developer' };
      const first = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(token), payload: body });
      assert.equal(first.statusCode, 201);
      const second = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(token), payload: body });
      assert.equal(second.statusCode, 409);
      const problem = problemOf(second);
      assert.equal(problem.code, 'ALREADY_EXISTS');
      assert.deepEqual(problem.errors?.map((e) => e.field), ['username']);
    });

    test('an unexpected error is a 500 that hides its cause; /health/db turns 503', async () => {
      const broken = await createTestApp();
      try {
        await insertUser(broken.db, { username: 'pool.victim', role: 'super_admin' });
        const victim = (await login(broken.app, 'pool.victim')).accessToken;
        // Pull the database out from under the app, the way an outage or a bug would.
        await broken.db.destroy();
        const response = await broken.app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(victim) });
        assert.equal(response.statusCode, 500);
        const problem = problemOf(response);
        assert.equal(problem.code, 'INTERNAL');
        assert.doesNotMatch(response.body, /pool|stack|at /i);
        assert.equal(problem.requestId, response.headers['x-request-id']);
        const ready = await broken.app.inject({ method: 'GET', url: '/health/db' });
        assert.equal(ready.statusCode, 503);
        assert.equal(problemOf(ready).code, 'SERVICE_UNAVAILABLE');
      } finally {
        await broken.close().catch(() => undefined);
      }
    });
  });

  describe('request ids', () => {
    test('an incoming X-Request-Id is echoed', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-abc.123' } });
      assert.equal(response.headers['x-request-id'], 'trace-abc.123');
    });

    test('one is generated when absent or unsafe', async () => {
      const none = await t.app.inject({ method: 'GET', url: '/health' });
      assert.match(String(none.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      const unsafe = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\nwith newline'.replace('\n', ' ') } });
      assert.notEqual(unsafe.headers['x-request-id'], 'bad id with newline');
      assert.match(String(unsafe.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });

    test('error responses carry it too, and it is on every log line of the request', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-request-id': 'req-logged-1' } });
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['x-request-id'], 'req-logged-1');
      assert.equal(problemOf(response).requestId, 'req-logged-1');
      const lines = logLines.filter((line) => line.requestId === 'req-logged-1');
      assert.ok(lines.length >= 2, 'request start, rejection and completion are logged');
      assert.ok(lines.some((line) => line.msg === 'request completed'));
      // Every line logged while handling a request is bound to its id.
      const requestLines = logLines.filter((line) => 'req' in line || 'res' in line);
      assert.ok(requestLines.length > 0);
      for (const line of requestLines) {
        assert.equal(typeof line.requestId, 'string');
      }
    });
  });

  describe('logs', () => {
    test('an access token in the query string (WebSocket handshakes) never reaches the log', async () => {
      const secret = 'eyJ-secret-token-value';
      await t.app.inject({ method: 'GET', url: `/api/v1/live?lastEventId=1&token=${secret}`, headers: { 'x-request-id': 'req-token-1' } });
      const lines = logLines.filter((line) => line.requestId === 'req-token-1');
      assert.ok(lines.length >= 1, 'the request was logged');
      const text = JSON.stringify(lines);
      assert.ok(!text.includes(secret), text);
      assert.ok(text.includes('token=[redacted]'), text);
    });
  });

  describe('operations endpoints', () => {
    test('/health answers without a token', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/health' });
      assert.equal(response.statusCode, 200);
      assert.equal(response.json<{ status: string }>().status, 'ok');
    });

    test('/health/db checks the database', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/health/db' });
      assert.equal(response.statusCode, 200);
      assert.equal(typeof response.json<{ latencyMs: number }>().latencyMs, 'number');
    });

    test('/metrics exposes Prometheus metrics including request latency and the pool', async () => {
      await t.app.inject({ method: 'GET', url: '/health' });
      const response = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /text\/plain/);
      assert.match(response.body, /bursar_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/);
      assert.match(response.body, /bursar_db_pool_connections\{state="total"\} \d+/);
      assert.match(response.body, /bursar_process_cpu_seconds_total/);
    });

    test('/openapi.json is OpenAPI 3.1 generated from the routes, with the problem schema', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(response.statusCode, 200);
      const doc = response.json<{
        openapi: string;
        paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
        components: { schemas: Record<string, unknown> };
      }>();
      assert.equal(doc.openapi, '3.1.0');
      for (const path of ['/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/auth/logout', '/api/v1/auth/me', '/api/v1/users', '/api/v1/users/{id}', '/health', '/health/db']) {
        assert.ok(doc.paths[path], `documents ${path}`);
      }
      assert.ok(doc.components.schemas.Problem);
      assert.deepEqual(doc.paths['/api/v1/users']?.get?.security, [{ bearerAuth: [] }]);
      assert.equal(doc.paths['/api/v1/auth/login']?.post?.security, undefined);
      assert.ok(doc.paths['/api/v1/users']?.post?.responses['409']);
    });

    test('/docs serves the interactive documentation', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/docs/' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /text\/html/);
    });

    test('security headers are set', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/health' });
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN');
      assert.match(String(response.headers['content-security-policy']), /default-src 'self'/);
      assert.doesNotMatch(String(response.headers['content-security-policy']), /upgrade-insecure-requests/);
    });
  });
});

describe('default rate limit', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '3' } });
    await insertUser(t.db, { username: 'limited.user', role: 'developer' });
    await insertUser(t.db, { username: 'other.user', role: 'developer' });
  });
  after(() => t.close());

  test('per user: the budget is spent, then 429 problem+json with Retry-After; another user is unaffected', async () => {
    const token = (await login(t.app, 'limited.user')).accessToken;
    const other = (await login(t.app, 'other.user')).accessToken;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) })).statusCode);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const limited = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
    assert.equal(problemOf(limited).code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    const fine = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(other) });
    assert.equal(fine.statusCode, 200);
  });

  test('health probes are exempt', async () => {
    for (let i = 0; i < 6; i++) {
      assert.equal((await t.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    }
  });
});
