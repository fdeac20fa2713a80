import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * X-Request-Id: a caller's id is kept when it is a sane token (so traces join up
 * across services), otherwise a UUID is made. It is on every response and, through
 * Fastify's request logger, on every log line of the request (`requestId`).
 */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate && SAFE_ID.test(candidate) ? candidate : randomUUID();
}

export default fp(
  (app: FastifyInstance) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
  },
  { name: 'bursar-request-id', fastify: '5.x' },
);
