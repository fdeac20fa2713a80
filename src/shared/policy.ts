import type { Role } from '../db/types.js';

/**
 * The role policy: what each role may do, which schools it sees and how its PII is
 * shown. This table is the single place to read or change access rules (SPEC §1);
 * the auth guard and the repositories both read it.
 *
 * Every route declares one permission in `config.policy`; the guard refuses to
 * register a route without one.
 */
export const PERMISSIONS = [
  /** Anyone, no token (health, docs, login). */
  'public',
  /** Any signed-in user (their own profile, logout). */
  'authenticated',
  'users:manage',
  /** Create and delete schools (a school_admin only edits the schools assigned to them). */
  'schools:manage',
  'billing:read',
  'billing:write',
  'reports:read',
  'reports:export',
  'monitoring:read',
  'sync:read',
  'sync:run',
  /** Resume the gateway sync from a time (POST /sync/reset): may skip vendor data, so super_admin only. */
  'sync:reset',
  'accounts:read',
  'assistant:use',
  /** The family portal (/portal/*): a guardian user's own family only. */
  'portal:use',
  /** Open a checkout at the payment gateway (SPEC §8): staff in their schools, a guardian for their own family. */
  'payments:checkout',
  /** Read the audit log (SPEC §9): super_admin, school_admin for their schools. */
  'audit:read',
  /** Outbound webhook endpoints (SPEC §9): super_admin, school_admin (events of their schools only). */
  'webhooks:manage',
  /** Bank reconciliation (SPEC §9): import statements, read their lines (payer names, remittance text), match, unmatch. */
  'reconciliation:use',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** `all`: every school; `assigned`: only the schools in user_schools. */
export type SchoolScope = 'all' | 'assigned';

/** `clear`: every field; `masked`: PII masked (initials, j***@d***.com, ...). */
export type PiiVisibility = 'clear' | 'masked';

export interface RolePolicy {
  permissions: ReadonlySet<Permission>;
  schools: SchoolScope;
  pii: PiiVisibility;
}

export const ROLES = ['super_admin', 'school_admin', 'finance_analyst', 'developer', 'guardian'] as const satisfies readonly Role[];

export const ROLE_POLICY: Readonly<Record<Role, RolePolicy>> = {
  super_admin: {
    permissions: new Set(PERMISSIONS),
    schools: 'all',
    pii: 'clear',
  },
  school_admin: {
    permissions: new Set<Permission>([
      'public', 'authenticated', 'billing:read', 'billing:write', 'reports:read', 'reports:export', 'assistant:use', 'payments:checkout', 'audit:read', 'reconciliation:use', 'webhooks:manage',
    ]),
    schools: 'assigned',
    pii: 'clear',
  },
  finance_analyst: {
    permissions: new Set<Permission>([
      'public', 'authenticated', 'billing:read', 'reports:read', 'reports:export', 'accounts:read', 'assistant:use',
    ]),
    schools: 'all',
    pii: 'masked',
  },
  // Operates the platform: monitoring, sync and health. Never PII, never billing lists,
  // never money movements; the masked setting is a second line of defence for the
  // monitoring feeds it can read.
  developer: {
    permissions: new Set<Permission>(['public', 'authenticated', 'monitoring:read', 'sync:read', 'sync:run']),
    schools: 'all',
    pii: 'masked',
  },
  // A parent or other payer (SPEC §8): the portal of their own family and nothing else.
  // None of the staff permissions, so every staff route answers 403; the portal routes
  // scope every read and write to the family of principal.guardian.
  guardian: {
    permissions: new Set<Permission>(['public', 'authenticated', 'portal:use', 'payments:checkout']),
    schools: 'assigned',
    pii: 'clear',
  },
};

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_POLICY[role].permissions.has(permission);
}

/**
 * Who is calling, resolved once per request by the auth guard and handed to services
 * and repositories, which filter by `schoolIds` and mask by `pii`.
 */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  sessionId: string;
  /** `all`, or the exact schools this caller may see. */
  schoolIds: 'all' | readonly string[];
  pii: PiiVisibility;
  /** A guardian user's guardian and family (role guardian only). */
  guardian: GuardianLink | null;
}

export interface GuardianLink {
  schoolId: string;
  guardianId: string;
  familyId: string;
}

export function principalFor(
  user: { id: string; username: string; role: Role; schoolIds: readonly string[]; guardian?: GuardianLink | null },
  sessionId: string,
): Principal {
  const policy = ROLE_POLICY[user.role];
  return {
    userId: user.id,
    username: user.username,
    role: user.role,
    sessionId,
    schoolIds: policy.schools === 'all' ? 'all' : user.role === 'guardian' ? (user.guardian ? [user.guardian.schoolId] : []) : user.schoolIds,
    pii: policy.pii,
    guardian: user.role === 'guardian' ? (user.guardian ?? null) : null,
  };
}

/** True when the caller may see rows of this school. */
export function canSeeSchool(principal: Principal, schoolId: string): boolean {
  return principal.schoolIds === 'all' || principal.schoolIds.includes(schoolId);
}
