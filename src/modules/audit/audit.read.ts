import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { schoolVisible } from '../billing/schools.repository.js';

/** One audit entry as stored. */
export interface AuditRow {
  id: string;
  occurredAt: Date;
  actorUserId: string | null;
  actorUsername: string | null;
  requestId: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  schoolId: string | null;
  changes: Record<string, unknown> | null;
}

export interface AuditFilter {
  entityType?: string | undefined;
  entityId?: string | undefined;
  schoolId?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/**
 * Reads of the audit log (GET /audit), newest first by id. A scope that does not see
 * every school sees only entries of its schools (never those with no school: users,
 * platform jobs). Keyset-paginated on id, a range scan of audit_log_school_id_idx or
 * audit_log_entity_id_idx (0026), or of the primary key for a super_admin's whole log.
 */
export function createAuditReadRepository() {
  return {
    schoolVisible,

    list(db: DbOrTx, scope: Scope, filter: AuditFilter, page: { limit: number; before?: string }): Promise<AuditRow[]> {
      return db
        .selectFrom('audit_log')
        .select([
          'id',
          'occurred_at as occurredAt',
          'actor_user_id as actorUserId',
          'actor_username as actorUsername',
          'request_id as requestId',
          'action',
          'entity_type as entityType',
          'entity_id as entityId',
          'school_id as schoolId',
          sql<Record<string, unknown> | null>`changes`.as('changes'),
        ])
        .$if(scope.schoolIds !== 'all', (qb) => qb.where('school_id', 'is not', null).where((eb) => inScope(eb, 'audit_log.school_id', scope)))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('school_id', '=', filter.schoolId ?? ''))
        .$if(filter.entityType !== undefined, (qb) => qb.where('entity_type', '=', filter.entityType ?? ''))
        .$if(filter.entityId !== undefined, (qb) => qb.where('entity_id', '=', filter.entityId ?? ''))
        .$if(filter.from !== undefined, (qb) => qb.where('occurred_at', '>=', new Date(filter.from ?? 0)))
        .$if(filter.to !== undefined, (qb) => qb.where('occurred_at', '<', new Date(filter.to ?? 0)))
        .$if(page.before !== undefined, (qb) => qb.where('id', '<', page.before ?? ''))
        .orderBy('id', 'desc')
        .limit(page.limit + 1)
        .execute();
    },
  };
}

export type AuditReadRepository = ReturnType<typeof createAuditReadRepository>;
