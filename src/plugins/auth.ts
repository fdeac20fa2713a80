import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../shared/errors.js';
import { isPermission, roleAllows, type Permission, type Principal } from '../shared/policy.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a caller needs; every route must declare one. */
    policy?: Permission;
    /**
     * The route may also be called with no Authorization header at all; the handler
     * then sees `principal === null` and decides (e.g. a school's public statements).
     * A token that is present is still verified and checked against `policy`.
     */
    allowAnonymous?: boolean;
    /**
     * The access token may also come as `?token=` (WebSocket handshakes: browsers cannot
     * set headers on them). The Authorization header still wins when both are present.
     */
    tokenInQuery?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Every route registered, with its policy (read by the policy test and docs). */
    routePolicies: { method: string; url: string; policy: Permission }[];
  }
}

export interface AuthGuardOptions {
  /** Verifies an access token and loads the caller; throws a 401 AppError. */
  authenticate(token: string): Promise<Principal>;
}

/** Routes registered by third-party plugins that are public by nature. */
const PUBLIC_PREFIXES = ['/docs'];

/**
 * The one access guard. At registration it refuses any route without a policy (so a
 * forgotten check is a boot failure, not a hole); per request it authenticates the
 * bearer token and checks the role against the policy table. Data scoping (which
 * schools, which fields) happens below, in services and repositories, from the
 * Principal set here.
 */
export default fp(
  (app: FastifyInstance, options: AuthGuardOptions) => {
    app.decorateRequest('principal', null);
    app.decorate('routePolicies', []);

    app.addHook('onRoute', (route) => {
      let policy = route.config?.policy;
      if (policy === undefined && PUBLIC_PREFIXES.some((prefix) => route.url === prefix || route.url.startsWith(`${prefix}/`))) {
        policy = 'public';
        route.config = { ...route.config, policy };
      }
      if (!isPermission(policy)) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no access policy (config.policy)`);
      }
      if (policy !== 'public') {
        // OpenAPI: a bearer token, or (for allowAnonymous routes) none at all.
        const security: Record<string, string[]>[] = route.config?.allowAnonymous === true ? [{ bearerAuth: [] }, {}] : [{ bearerAuth: [] }];
        route.schema = { ...route.schema, security };
      }
      for (const method of [route.method].flat()) {
        app.routePolicies.push({ method, url: route.url, policy });
      }
    });

    app.addHook('onRequest', async (request) => {
      const policy = request.routeOptions.config.policy;
      // No policy only on the not-found handler, which answers 404 to anyone.
      if (policy === undefined || policy === 'public') {
        return;
      }
      if (request.routeOptions.config.allowAnonymous === true && request.headers.authorization === undefined) {
        return;
      }
      const principal = await options.authenticate(tokenOf(request));
      request.principal = principal;
      if (!roleAllows(principal.role, policy)) {
        throw new AppError('FORBIDDEN', `role ${principal.role} may not use this endpoint`);
      }
    });
  },
  { name: 'bursar-auth-guard', fastify: '5.x' },
);

function tokenOf(request: FastifyRequest): string {
  if (request.routeOptions.config.tokenInQuery === true && request.headers.authorization === undefined) {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof token === 'string' && token.length > 0) {
      return token;
    }
  }
  return bearerToken(request);
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) {
    throw new AppError('UNAUTHENTICATED', 'an Authorization: Bearer <access token> header is required', {
      headers: { 'www-authenticate': 'Bearer' },
    });
  }
  return match[1];
}

/** The caller of a route whose policy is not public. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) {
    throw new AppError('UNAUTHENTICATED', 'authentication required');
  }
  return request.principal;
}
