import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { pageOf } from '../billing/billing.schemas.js';
import { createAuditReadRepository } from './audit.read.js';
import { AUDIT_SCHEMAS, AuditQuery } from './audit.schemas.js';
import { createAuditService } from './audit.service.js';

/** The audit log (SPEC §9): super_admin, and school_admin for their schools. */
export default function auditRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createAuditService({ db: options.db, repo: createAuditReadRepository() });
  for (const schema of AUDIT_SCHEMAS) {
    api.addSchema(schema);
  }

  api.get('/audit', {
    config: { policy: 'audit:read' },
    schema: {
      tags: ['audit'],
      summary: 'Who changed what, when, from which request: the audit log, newest first',
      description:
        'Filters combine: `entityType` + `entityId` (one thing’s history: an invoice, a student, a family, a school), `schoolId`, and `from` ≤ written < `to`. ' +
        'A school admin sees the entries of their schools only (not platform entries such as users). Keyset-paginated: pass `nextCursor` back as `cursor`.',
      querystring: AuditQuery,
      response: { 200: pageOf('AuditEntry'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.list(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));
}
