import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { problemResponses } from '../../plugins/errors.js';
import { AppError } from '../../shared/errors.js';

/**
 * Liveness (/health: the process answers) and readiness (/health/db: the database
 * answers within a second). Public and exempt from rate limits, for load balancers
 * and Kubernetes probes; they reveal nothing but up/down and latency.
 */
export default function healthRoutes(app: FastifyInstance, options: { db: Db; version: string }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const config = { policy: 'public' as const, rateLimit: false as const };

  api.get(
    '/health',
    {
      config,
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), uptimeSeconds: Type.Number() }) },
      },
    },
    () => ({ status: 'ok' as const, version: options.version, uptimeSeconds: Math.round(process.uptime()) }),
  );

  api.get(
    '/health/db',
    {
      config,
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database answers',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), latencyMs: Type.Number() }),
          ...problemResponses(503),
        },
      },
    },
    async () => {
      const started = performance.now();
      try {
        await withTimeout(sql`select 1`.execute(options.db), 1000);
      } catch (error) {
        app.log.warn({ err: error }, 'database readiness check failed');
        throw new AppError('SERVICE_UNAVAILABLE', 'the database is not answering');
      }
      return { status: 'ok' as const, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
    },
  );
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
