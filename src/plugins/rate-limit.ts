import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';

/** Key prefix of the shared counters in Redis. */
export const RATE_LIMIT_NAMESPACE = 'bursar:rate-limit:';

/**
 * The global rate limit: RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_SECONDS, per user
 * when signed in, per IP otherwise. Registered after the access guard, so the budget is
 * keyed by the principal it found.
 *
 * With REDIS_URL the counters live in Redis (one atomic INCR + PEXPIRE script per
 * request), so a user's budget is one across every API process behind the load balancer;
 * without it each process counts on its own (the effective limit is N × max). A Redis
 * outage must not take the API down: a failing counter lets the request through
 * (skipOnError) and is logged at most once a minute.
 */
export default fp(
  async (app: FastifyInstance, options: { config: Config }) => {
    const { config } = options;
    let redis: Redis | undefined;
    if (config.redisUrl !== undefined) {
      redis = new Redis(config.redisUrl, {
        enableOfflineQueue: true,
        commandTimeout: 250,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
      });
      let lastWarning = 0;
      redis.on('error', (error: unknown) => {
        if (Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          app.log.warn({ err: error }, 'rate limits (Redis) unavailable; requests are let through uncounted');
        }
      });
      const client = redis;
      app.addHook('onClose', async () => {
        client.disconnect();
        await Promise.resolve();
      });
    }
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowSeconds * 1000,
      // After the guard, so the budget is per user when signed in, per IP otherwise.
      hook: 'preHandler',
      keyGenerator: (request) => (request.principal ? `user:${request.principal.userId}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) =>
        new AppError('RATE_LIMITED', `rate limit of ${context.max} requests per ${context.after} exceeded; retry later`, {
          headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
        }),
      ...(redis === undefined ? {} : { redis, nameSpace: RATE_LIMIT_NAMESPACE, skipOnError: true }),
    });
  },
  { name: 'bursar-rate-limit', fastify: '5.x' },
);
