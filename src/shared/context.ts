import type { Principal } from './policy.js';

/** Who is acting and from which request; passed to every service call that writes. */
export interface Actor {
  /** Null for system actions (start-up seeding, jobs). */
  principal: Principal | null;
  requestId: string | null;
  ip?: string;
  userAgent?: string;
}
