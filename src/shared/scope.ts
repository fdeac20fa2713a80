import { expressionBuilder, sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Principal } from './policy.js';

/**
 * Tenant isolation in the data-access path: every repository query over tenant rows
 * passes its school_id column through `inScope`, so a school_admin's query can only
 * ever touch their schools, whatever the caller asked for. Out-of-scope rows are
 * indistinguishable from missing ones (404, no existence leak).
 */
export type Scope = Pick<Principal, 'schoolIds' | 'pii'>;

/** A scope that sees everything in clear: system jobs and seeders only. */
export const SYSTEM_SCOPE: Scope = { schoolIds: 'all', pii: 'clear' };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- works over any table's school_id
export function inScope(eb: ExpressionBuilder<any, any>, column: string, scope: Scope): Expression<SqlBool> {
  if (scope.schoolIds === 'all') {
    return sql<boolean>`true`;
  }
  if (scope.schoolIds.length === 0) {
    return sql<boolean>`false`;
  }
  return eb(eb.ref(column), 'in', [...scope.schoolIds]);
}

/** `inScope` for raw `sql` statements, which have no expression builder of their own. */
export function inScopeSql(column: string, scope: Scope): Expression<SqlBool> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- works over any table's school_id
  return inScope(expressionBuilder<any, any>(), column, scope);
}
