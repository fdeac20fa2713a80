import { AppError } from './errors.js';
import type { Principal } from './policy.js';

/** Who is acting and from which request; passed to every service call that writes. */
export interface Actor {
  /** Null for system actions (start-up seeding, jobs). */
  principal: Principal | null;
  requestId: string | null;
  ip?: string;
  userAgent?: string;
}

/** The signed-in principal acting, or 401 UNAUTHENTICATED for a system actor (a route without auth reaching a service that needs one). */
export function requirePrincipal(actor: Actor): Principal {
  if (!actor.principal) {
    throw new AppError('UNAUTHENTICATED', 'authentication required');
  }
  return actor.principal;
}
