import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { loadConfig } from '../../src/config.js';
import { startTelemetry, traceJob } from '../../src/telemetry.js';

/** OTEL_TRACING unset (the default): nothing is started, and traceJob is a plain call. */
test('tracing is off by default: no handle, no global tracer provider, no Fastify hook; traceJob just runs the job', async () => {
  const config = loadConfig({ NODE_ENV: 'test' });
  assert.equal(config.telemetry.enabled, false);
  assert.equal(await startTelemetry(config), undefined);

  // Without a registered provider the API hands out non-recording no-op spans.
  const provider = trace.getTracerProvider() as unknown as { getDelegate(): object };
  assert.equal(provider.getDelegate().constructor.name, 'NoopTracerProvider');
  const span = trace.getTracer('probe').startSpan('probe');
  assert.equal(span.isRecording(), false);
  span.end();

  // When on, @fastify/otel listens here to instrument every new Fastify instance.
  assert.equal(diagnostics.channel('fastify.initialization').hasSubscribers, false);

  assert.equal(await traceJob('process nothing', {}, (jobSpan) => Promise.resolve(jobSpan.isRecording() ? 'recorded' : 'plain')), 'plain');
});
