import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../../src/config.js';
import { startTelemetry, traceJob, type Telemetry } from '../../src/telemetry.js';
import { waitFor } from '../helpers/wait.js';
// Nothing above may load pg or fastify: they are patched when first imported, so the app
// and its helpers are imported below, after startTelemetry (as the process entry does).
import type { TestApp } from '../helpers/app.js';
import type { VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';

const PG_SCOPE = '@opentelemetry/instrumentation-pg';

/**
 * OTEL_TRACING=on against a real app, a real PostgreSQL and the real pg-boss sync job;
 * spans go to an in-memory exporter instead of OTLP.
 */
describe('tracing (OTEL_TRACING=on)', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry | undefined;
  let t: TestApp;
  let vendor: VendorSimulator;
  let baseUrl: string;
  let password: string;

  const spans = () => exporter.getFinishedSpans();
  const idOf = (span: ReadableSpan) => span.spanContext().spanId;
  const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
  /** The span's ancestors, nearest first, as far as they were exported. */
  const ancestors = (span: ReadableSpan): ReadableSpan[] => {
    const byId = new Map(spans().map((s) => [idOf(s), s]));
    const chain: ReadableSpan[] = [];
    for (let parent = span.parentSpanContext; parent; ) {
      const next = byId.get(parent.spanId);
      if (!next) {
        break;
      }
      chain.push(next);
      parent = next.parentSpanContext;
    }
    return chain;
  };
  const descendantsOf = (root: ReadableSpan) => spans().filter((s) => ancestors(s).some((a) => idOf(a) === idOf(root)));
  const serverSpan = (route: string) =>
    spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route && s.instrumentationScope.name.includes('instrumentation-http'));

  before(async () => {
    telemetry = await startTelemetry(loadConfig({ NODE_ENV: 'test', OTEL_TRACING: 'on', OTEL_SERVICE_NAME: 'bursar-test' }), {
      spanProcessor: new SimpleSpanProcessor(exporter),
      role: 'test',
    });
    const { createTestApp, insertUser, PASSWORD } = await import('../helpers/app.js');
    password = PASSWORD;
    const { createVendorSimulator } = await import('../../src/modules/vendor/vendor.simulator.js');
    vendor = createVendorSimulator({ apiKeys: ['trace-key'], entriesPerSecond: 0, requestsPerMinute: 600, seed: 3 });
    await vendor.start();
    vendor.append(30);
    t = await createTestApp({
      env: { SYNC: 'on', VENDOR_URL: vendor.url, VENDOR_API_KEY: 'trace-key', SYNC_REQUESTS_PER_MINUTE: '600', SYNC_INTERVAL_SECONDS: '3600' },
    });
    await insertUser(t.db, { username: 'tracer', role: 'developer' });
    // Real sockets: the HTTP server span comes from node:http, which app.inject bypasses.
    baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await t.close();
    await vendor.close();
    await telemetry?.shutdown();
  });

  test('startTelemetry returns a handle when enabled', () => {
    assert.ok(telemetry);
  });

  test('a request gets a SERVER span named by its route, with its pg queries inside the same trace', async () => {
    // A probe first: it must leave no trace at all (the login below ends after it).
    const probe = await fetch(`${baseUrl}/health/db`);
    assert.equal(probe.status, 200);

    const response = await fetch(`${baseUrl}/api/v1/auth/login?token=not-for-traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tracer', password }),
    });
    assert.equal(response.status, 200);

    await waitFor('the login server span', () => serverSpan('/api/v1/auth/login') !== undefined);
    const server = serverSpan('/api/v1/auth/login');
    assert.ok(server);
    assert.equal(server.name, 'POST /api/v1/auth/login');
    assert.equal(server.attributes['http.request.method'], 'POST');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.parentSpanContext, undefined, 'no traceparent came in: the request is the root');
    assert.equal(server.resource.attributes['service.name'], 'bursar-test');
    assert.equal(server.resource.attributes['bursar.process.role'], 'test');
    assert.equal(typeof server.resource.attributes['service.version'], 'string');

    const inside = descendantsOf(server);
    const queries = inside.filter((s) => s.instrumentationScope.name === PG_SCOPE && s.kind === SpanKind.CLIENT);
    assert.ok(queries.length > 0, `pg spans under the request; got ${inside.map((s) => s.name).join(', ')}`);
    for (const query of queries) {
      assert.equal(traceOf(query), traceOf(server));
    }
    assert.ok(
      queries.some((q) => String(q.attributes['db.statement'] ?? q.attributes['db.query.text']).includes('users')),
      'the login looked up the user',
    );
    const handler = inside.find((s) => s.instrumentationScope.name === '@fastify/otel' && s.name.startsWith('handler'));
    assert.ok(handler, `a @fastify/otel handler span; got ${inside.map((s) => s.name).join(', ')}`);

    // The access token rides in `token` on WebSocket handshakes: never in a span.
    assert.equal(server.attributes['url.query'], 'token=REDACTED');
    const leaked = spans().filter((s) => JSON.stringify(s.attributes).includes('not-for-traces'));
    assert.deepEqual(leaked.map((s) => s.name), []);
    // Probes are not traced, and their queries (no parent span) are not either.
    assert.deepEqual(spans().filter((s) => String(s.attributes['url.path'] ?? '').startsWith('/health')).map((s) => s.name), []);
    assert.deepEqual(spans().filter((s) => s.instrumentationScope.name === PG_SCOPE && !s.parentSpanContext).map((s) => s.name), []);
  });

  test('each pg-boss sync job run is a CONSUMER root span with its queries and vendor calls inside', async () => {
    const isJob = (s: ReadableSpan) => s.name === 'process bursar-sync' && s.attributes['bursar.sync.feed'] === 'live';
    await waitFor('a finished sync job span', () => spans().some(isJob));
    const job = spans().find(isJob);
    assert.ok(job);
    assert.equal(job.kind, SpanKind.CONSUMER);
    assert.equal(job.parentSpanContext, undefined, 'a job run starts its own trace');
    assert.equal(job.attributes['messaging.destination.name'], 'bursar-sync');
    assert.equal(typeof job.attributes['messaging.message.id'], 'string');
    assert.equal(typeof job.attributes['bursar.sync.status'], 'string');
    assert.equal(job.status.code, SpanStatusCode.UNSET);

    const inside = descendantsOf(job);
    const queries = inside.filter((s) => s.instrumentationScope.name === PG_SCOPE);
    assert.ok(queries.length > 0, 'the pass wrote through pg inside the job span');
    assert.ok(queries.every((q) => traceOf(q) === traceOf(job)));
    const vendorCalls = inside.filter((s) => s.kind === SpanKind.CLIENT && s.instrumentationScope.name.includes('undici'));
    assert.ok(vendorCalls.length > 0, `the feed requests are client spans in the job's trace; got ${inside.map((s) => s.name).join(', ')}`);
  });

  test('traceJob records a failure on its span and rethrows it', async () => {
    await assert.rejects(
      traceJob('process failing-job', { 'messaging.destination.name': 'failing-job' }, () => Promise.reject(new Error('vendor down'))),
      /vendor down/,
    );
    const span = spans().find((s) => s.name === 'process failing-job');
    assert.ok(span);
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.status.message, 'vendor down');
    assert.ok(span.events.some((e) => e.name === 'exception'));
  });

  test('traceJob returns what the job returns, and spans inside it are its children', async () => {
    const value = await traceJob('process answer', {}, async () => {
      await t.pool.query('select 1 as answer');
      return 42;
    });
    assert.equal(value, 42);
    const span = spans().find((s) => s.name === 'process answer');
    assert.ok(span);
    const query = spans().find((s) => s.instrumentationScope.name === PG_SCOPE && s.parentSpanContext?.spanId === idOf(span));
    assert.ok(query, 'the query is a direct child of the job span');
  });
});
