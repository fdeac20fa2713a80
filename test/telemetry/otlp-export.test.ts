import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** The subset of OTLP/HTTP JSON (ExportTraceServiceRequest) these assertions read. */
interface OtlpValue {
  stringValue?: string;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: OtlpValue }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}
const SPAN_KIND_SERVER = 2;

/**
 * The production path end to end, in a child process started as the CLI starts one:
 * the real OTLP/HTTP exporter posting to a collector (a tiny HTTP server here), and
 * pg/fastify instrumented because they are imported after startTelemetry.
 */
let database: TestDatabase;
let collector: Server;
const exports: OtlpExport[] = [];
const paths: string[] = [];

before(async () => {
  database = await createTestDatabase();
  collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      paths.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
      exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await new Promise((resolve) => collector.close(resolve));
  await database.drop();
});

test('a traced process exports its request and query spans to the OTLP/HTTP endpoint on shutdown', async () => {
  const { port } = collector.address() as AddressInfo;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/telemetry/fixtures/traced-process.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: database.url,
      OTEL_TRACING: 'on',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/`,
      OTEL_SERVICE_NAME: 'bursar-otlp-test',
    },
  });
  assert.match(stdout, /login answered 401/);
  // The SDK warns on stderr when an instrumented module was loaded before it: the order is the point.
  assert.doesNotMatch(stderr, /telemetry|loaded before/i);

  assert.ok(paths.length > 0, 'the exporter posted');
  assert.ok(paths.every((p) => p === 'POST /v1/traces application/json'), paths.join('; '));
  const resourceSpans = exports.flatMap((e) => e.resourceSpans);
  const attribute = (list: { key: string; value: OtlpValue }[], key: string) => list.find((a) => a.key === key)?.value.stringValue;
  assert.equal(attribute(resourceSpans[0]?.resource.attributes ?? [], 'service.name'), 'bursar-otlp-test');
  assert.equal(attribute(resourceSpans[0]?.resource.attributes ?? [], 'bursar.process.role'), 'api');

  const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, scope: s.scope.name }))));
  const server = spans.find((s) => s.kind === SPAN_KIND_SERVER && s.name === 'POST /api/v1/auth/login');
  assert.ok(server, `a server span named by the route; got ${spans.map((s) => s.name).join(', ')}`);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const descendsFromServer = (span: OtlpSpan) => {
    for (let parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; parent; parent = parent.parentSpanId ? byId.get(parent.parentSpanId) : undefined) {
      if (parent.spanId === server.spanId) {
        return true;
      }
    }
    return false;
  };
  const queries = spans.filter((s) => s.scope === '@opentelemetry/instrumentation-pg' && s.name.startsWith('pg.query'));
  assert.ok(queries.some((q) => q.traceId === server.traceId && descendsFromServer(q)), 'the user lookup is inside the request trace');
});
