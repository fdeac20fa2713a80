import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

/**
 * Prometheus metrics at /metrics: process defaults, HTTP request latency by route and
 * status, and the database pool. Each app has its own registry (tests build many).
 * Later modules add their own (sync lag, live clients, job queue) to `app.metrics`.
 */
export default fp(
  (app: FastifyInstance, options: { pool: pg.Pool }) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'bursar_' });
    app.decorate('metrics', registry);

    const duration = new Histogram({
      name: 'bursar_http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const pool = options.pool;
    new Gauge({
      name: 'bursar_db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });

    app.addHook('onResponse', async (request, reply) => {
      duration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });

    app.get(
      '/metrics',
      { config: { policy: 'public', rateLimit: false }, schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: true } },
      async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
    );
  },
  { name: 'bursar-metrics', fastify: '5.x' },
);
