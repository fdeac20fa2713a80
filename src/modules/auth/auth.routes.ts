import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import type { Actor } from '../../shared/context.js';
import { ROLE_POLICY } from '../../shared/policy.js';
import { LoginBody, LogoutBody, Me, RefreshBody, TokenPair } from './auth.schemas.js';
import type { AuthService } from './auth.service.js';

export function actorOf(request: FastifyRequest): Actor {
  return {
    principal: request.principal,
    requestId: request.id,
    ip: request.ip,
    userAgent: request.headers['user-agent'],
  };
}

export default function authRoutes(app: FastifyInstance, options: { auth: AuthService }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { auth } = options;
  api.addSchema(TokenPair);

  api.post(
    '/auth/login',
    {
      config: { policy: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Log in with username and password',
        description: 'Throttled per username and per client IP: after repeated failures, 429 with Retry-After.',
        body: LoginBody,
        response: { 200: Type.Ref('TokenPair'), ...problemResponses(400, 401, 429) },
      },
    },
    (request) => auth.login(request.body, actorOf(request)),
  );

  api.post(
    '/auth/refresh',
    {
      config: { policy: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new token pair (rotation)',
        description: 'Each refresh token works once. Reusing one revokes its whole session.',
        body: RefreshBody,
        response: { 200: Type.Ref('TokenPair'), ...problemResponses(400, 401) },
      },
    },
    (request) => auth.refresh(request.body.refreshToken, actorOf(request)),
  );

  api.post(
    '/auth/logout',
    {
      config: { policy: 'authenticated' },
      // The body is optional: a bare POST ends the current session.
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
      schema: {
        tags: ['auth'],
        summary: 'End the current session (or all sessions)',
        body: LogoutBody,
        response: { 204: Type.Null({ description: 'session ended' }), ...problemResponses(400, 401) },
      },
    },
    async (request, reply) => {
      await auth.logout(principalOf(request), request.body, actorOf(request));
      return reply.status(204).send(null);
    },
  );

  api.get(
    '/auth/me',
    {
      config: { policy: 'authenticated' },
      schema: {
        tags: ['auth'],
        summary: 'The caller, their role, visible schools and permissions',
        response: { 200: Me, ...problemResponses(401) },
      },
    },
    (request) => {
      const principal = principalOf(request);
      return {
        id: principal.userId,
        username: principal.username,
        role: principal.role,
        schoolIds: principal.schoolIds === 'all' ? ('all' as const) : [...principal.schoolIds],
        pii: principal.pii,
        permissions: [...ROLE_POLICY[principal.role].permissions].sort(),
        ...(principal.role === 'guardian' ? { guardian: principal.guardian } : {}),
      };
    },
  );
}
