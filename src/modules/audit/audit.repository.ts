import type { DbOrTx } from '../../db/database.js';
import type { Actor } from '../../shared/context.js';

/**
 * The audit log: who changed what, when, from which request. Written in the same
 * transaction as the change it describes, so neither exists without the other.
 * Secrets (password hashes, tokens) never go into `changes`.
 */
export interface AuditEntry {
  action: string;
  entityType: string;
  entityId: string | null;
  schoolId?: string | null;
  changes?: Record<string, unknown>;
}

export async function recordAudit(db: DbOrTx, actor: Actor | null, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor_user_id: actor?.principal?.userId ?? null,
      actor_username: actor?.principal?.username ?? null,
      request_id: actor?.requestId ?? null,
      action: entry.action,
      entity_type: entry.entityType,
      entity_id: entry.entityId,
      school_id: entry.schoolId ?? null,
      changes: entry.changes ? JSON.stringify(entry.changes) : null,
    })
    .execute();
}
