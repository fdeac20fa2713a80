import type { Db } from '../../db/database.js';
import { AppError, notFound } from '../../shared/errors.js';
import { maskEmail, maskName, maskPhone } from '../../shared/masking.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import type { AuditReadRepository, AuditRow } from './audit.read.js';
import type { AuditEntry, AuditQuery } from './audit.schemas.js';

/** Keys of `changes` that hold a person's name, e-mail address or phone number, wherever they are nested. */
const NAME_KEYS = new Set(['firstName', 'lastName', 'name', 'fullName', 'guardianName', 'studentName', 'payerName']);
const EMAIL_KEYS = new Set(['email']);
const PHONE_KEYS = new Set(['phone', 'whatsapp']);

/** `changes` with the PII of SPEC §1 masked (names to initials, e-mails and phones to their masks), for roles that see PII masked. */
export function maskChanges(value: unknown, key?: string): unknown {
  if (typeof value === 'string' && key !== undefined) {
    if (NAME_KEYS.has(key)) {
      return maskName(value);
    }
    if (EMAIL_KEYS.has(key) || (key === 'recipient' && value.includes('@'))) {
      return maskEmail(value);
    }
    if (PHONE_KEYS.has(key) || key === 'recipient') {
      return maskPhone(value);
    }
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => maskChanges(item, key));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskChanges(v, k)]));
  }
  return value;
}

function present(row: AuditRow, scope: Scope): AuditEntry {
  return {
    id: row.id,
    action: row.action,
    entityType: row.entityType,
    entityId: row.entityId,
    schoolId: row.schoolId,
    actor: { userId: row.actorUserId, username: row.actorUsername },
    requestId: row.requestId,
    changes: row.changes === null || scope.pii === 'clear' ? row.changes : (maskChanges(row.changes) as Record<string, unknown>),
    createdAt: row.occurredAt.toISOString(),
  };
}

const invalid = (field: string, message: string) => new AppError('VALIDATION_FAILED', `${field} ${message}`, { errors: [{ field, in: 'querystring', message }] });

/** GET /audit (SPEC §9): the audit log, scoped by school, newest first. */
export function createAuditService(deps: { db: Db; repo: AuditReadRepository }) {
  const { db, repo } = deps;
  return {
    async list(scope: Scope, query: AuditQuery & { limit: number }): Promise<Page<AuditEntry>> {
      if (query.entityId !== undefined && query.entityType === undefined) {
        throw invalid('entityId', 'needs entityType (an id alone does not say what it is the id of)');
      }
      if (query.from !== undefined && query.to !== undefined && Date.parse(query.from) >= Date.parse(query.to)) {
        throw invalid('from', `must be before to (${query.to})`);
      }
      if (query.schoolId !== undefined && !(await repo.schoolVisible(db, scope, query.schoolId))) {
        throw notFound('school');
      }
      const before = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
      const rows = await repo.list(db, scope, query, { limit: query.limit, ...(before === undefined ? {} : { before }) });
      const page = toPage(rows, query.limit, (row) => [row.id]);
      return { ...page, data: page.data.map((row) => present(row, scope)) };
    },
  };
}
