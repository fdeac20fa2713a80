import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from './config.js';

/**
 * OpenTelemetry tracing behind OTEL_TRACING=on (docs/observability.md).
 *
 * Traced: incoming HTTP (a SERVER span per request, named `METHOD /route` by
 * @fastify/otel, which adds `request` and `handler` spans under it), outgoing fetch
 * (vendor feed, LLM), every pg query and pool checkout made inside a traced operation,
 * and each pg-boss job run (`traceJob`). Spans leave over OTLP/HTTP in batches.
 *
 * Order matters: `startTelemetry` must run before `pg` and `fastify` are first imported,
 * because pg is patched when it is required (Fastify is found through its
 * diagnostics channel, so only its instances created later are traced). The process
 * entry therefore awaits it first and imports the app dynamically afterwards. When
 * tracing is off nothing of the SDK is loaded: only the API (a no-op without an SDK)
 * that `traceJob` uses.
 */
export interface Telemetry {
  /** Flushes buffered spans to the collector and removes every hook; call once, last. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Replaces the OTLP exporter, for tests (an in-memory exporter behind a SimpleSpanProcessor). */
  spanProcessor?: SpanProcessor;
  /** What this process does (`api`, `worker`, `all`): the `bursar.process.role` resource attribute. */
  role?: string;
}

/** Tracer name for spans Bursar creates itself (jobs). */
const TRACER = 'bursar';

/**
 * Health probes and metric scrapes arrive every few seconds from every orchestrator and
 * Prometheus; tracing them would bury the requests worth looking at (the request log
 * skips them for the same reason, see app.ts).
 */
export function isUntracedPath(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '';
  return path === '/health' || path.startsWith('/health/') || path === '/metrics';
}

/** Query parameters whose values never reach a span (WebSocket handshakes carry the access token in `token`). */
const REDACTED_QUERY_PARAMS = ['token', 'access_token'];

let running = false;

/**
 * pg is patched when it is loaded; once loaded (an ESM import of a CommonJS package
 * lands in require.cache too) its queries go untraced, silently. Say so at start-up.
 */
function warnIfLoadedEarly(diag: { warn(message: string): void }): void {
  const require = createRequire(import.meta.url);
  for (const name of ['pg', 'pg-pool']) {
    try {
      if (require.resolve(name) in require.cache) {
        diag.warn(`telemetry: ${name} was imported before startTelemetry; its queries will not be traced (import the app after starting telemetry)`);
      }
    } catch {
      // Not installed: nothing to trace.
    }
  }
}

export async function startTelemetry(config: Config, options: TelemetryOptions = {}): Promise<Telemetry | undefined> {
  if (!config.telemetry.enabled) {
    return undefined;
  }
  if (running) {
    throw new Error('startTelemetry was called twice in one process');
  }
  // Loaded only when tracing is on: none of this costs anything otherwise.
  const [
    api,
    { NodeTracerProvider },
    { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler },
    { defaultResource, detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes },
    { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION },
    { registerInstrumentations },
    { HttpInstrumentation },
    { UndiciInstrumentation },
    { PgInstrumentation },
    { FastifyOtelInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-pg'),
    import('@fastify/otel'),
  ]);

  // SDK problems (an unreachable collector, a rejected export) are otherwise silent: say
  // them on stderr, warnings and up.
  api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);
  warnIfLoadedEarly(api.diag);

  const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  // Later merges win: SDK defaults < host/process < ours < OTEL_RESOURCE_ATTRIBUTES <
  // OTEL_SERVICE_NAME, the precedence the OpenTelemetry spec gives the two variables.
  const resource = defaultResource()
    .merge(detectResources({ detectors: [hostDetector, processDetector] }))
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_VERSION]: version,
        'deployment.environment.name': config.env,
        ...(options.role ? { 'bursar.process.role': options.role } : {}),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.telemetry.serviceName }));

  let processor = options.spanProcessor;
  if (!processor) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const endpoint = (config.telemetry.otlpEndpoint ?? 'http://localhost:4318').replace(/\/+$/, '');
    // Headers (OTEL_EXPORTER_OTLP_HEADERS, e.g. a vendor's API key) are read by the exporter itself.
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }));
  }

  const provider = new NodeTracerProvider({
    resource,
    // A request that arrives with a sampled traceparent stays sampled (one whole trace
    // across services); new traces are kept at the configured ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.telemetry.samplerRatio) }),
    spanProcessors: [processor],
  });
  // Global tracer provider, AsyncLocalStorage context manager, W3C trace-context propagator.
  provider.register();

  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => isUntracedPath(request.url ?? ''),
        redactedQueryParamsServer: REDACTED_QUERY_PARAMS,
        // Outgoing node:http calls only as part of a traced operation (no stray root spans).
        requireParentforOutgoingSpans: true,
      }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
      new PgInstrumentation({
        // pg-boss polls every second or two; those queries have no parent and are not
        // worth a trace each. Queries made by a request or a job are.
        requireParentSpan: true,
        // Never parameter values: they are money, names and token hashes.
        enhancedDatabaseReporting: false,
      }),
      new FastifyOtelInstrumentation({
        // Hooks itself into every Fastify instance created from now on (no app.ts change).
        registerOnInitialization: true,
        ignorePaths: (route) => isUntracedPath(route.url ?? ''),
        // A span per lifecycle hook is a dozen per request here (helmet, guard, rate limit…):
        // the request and handler spans are enough to place the time.
        instrumentHooks: false,
        requestHook: (span, request) => {
          // @fastify/otel records request.url, query string included (tokens): path only.
          span.setAttribute('url.path', request.url.split('?', 1)[0] ?? request.url);
        },
      }),
    ],
  });
  running = true;

  let stopped = false;
  return {
    async shutdown() {
      if (stopped) {
        return;
      }
      stopped = true;
      unregister();
      try {
        await provider.shutdown();
      } finally {
        api.trace.disable();
        api.context.disable();
        api.propagation.disable();
        running = false;
      }
    },
  };
}

/**
 * Runs one job (a pg-boss job, a scheduled pass) inside its own span and returns what
 * `run` returns. Each run is the root of a new trace: the poll loop that picks the job up
 * belongs to no request. Failures are recorded on the span and rethrown. Without a
 * started SDK the span is a no-op and this costs a function call.
 */
export async function traceJob<T>(name: string, attributes: Attributes, run: (span: Span) => Promise<T>): Promise<T> {
  return trace.getTracer(TRACER).startActiveSpan(name, { kind: SpanKind.CONSUMER, root: true, attributes }, async (span) => {
    try {
      return await run(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
