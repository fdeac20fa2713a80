import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * OpenAPI 3.1 generated from the route schemas: the document at /openapi.json and a
 * browsable UI at /docs. Register before any route so every route is collected.
 */
export default fp(
  async (app: FastifyInstance, options: { version: string }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Bursar API',
          version: options.version,
          description:
            'School-fee platform: billing, payments, reporting, live analytics, gateway sync and a collection assistant. ' +
            'Errors are RFC 9457 application/problem+json. Lists are keyset-paginated (limit, cursor → nextCursor).',
        },
        servers: [{ url: '/' }],
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    });

    app.get(
      '/openapi.json',
      { config: { policy: 'public' }, schema: { hide: true } },
      () => app.swagger(),
    );

    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'bursar-docs', fastify: '5.x' },
);
