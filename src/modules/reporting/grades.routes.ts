import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { notFound } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import { Uuid } from '../billing/billing.schemas.js';
import { createBillingReportsRepository, type BillingReportsRepository } from './billing-reports.repository.js';
import { createGradesRepository, type GradesRepository } from './grades.repository.js';

/** More distinct grades than a picker can show: the list is cut and says so. */
export const MAX_GRADES = 200;

export const GradesQuery = Type.Object({ schoolId: Type.Optional(Uuid) }, { additionalProperties: false });
export type GradesQuery = Static<typeof GradesQuery>;

export const GradeList = Type.Object({
  data: Type.Array(Type.String(), { description: `the grades in natural order ("2" before "10"), at most ${MAX_GRADES}` }),
  truncated: Type.Boolean({ description: `true when the schools in view have more than ${MAX_GRADES} distinct grades` }),
});
export type GradeList = Static<typeof GradeList>;

const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/**
 * The grades of the schools in view: one school (404 when not visible, like the
 * dashboard) or every school the caller may see. The dashboard's and the queue's Grade
 * filters offer these instead of free text that silently matches nothing.
 */
export function createGradesService(deps: { db: Db; grades: GradesRepository; reports: BillingReportsRepository }) {
  return {
    async list(principal: Principal, query: GradesQuery): Promise<GradeList> {
      if (query.schoolId !== undefined && !(await deps.reports.schoolVisible(deps.db, principal, query.schoolId))) {
        throw notFound('school');
      }
      const rows = await deps.grades.listGrades(deps.db, principal, { schoolId: query.schoolId, limit: MAX_GRADES + 1 });
      return { data: rows.slice(0, MAX_GRADES).sort(natural.compare), truncated: rows.length > MAX_GRADES };
    },
  };
}

/** GET /reports/grades (`reports:read`, scoped like GET /reports/dashboard). */
export default function gradesRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const grades = createGradesService({ db: options.db, grades: createGradesRepository(), reports: createBillingReportsRepository() });
  api.get(
    '/reports/grades',
    {
      config: { policy: 'reports:read' as const },
      schema: {
        tags: ['reports'],
        summary: 'Grades of the students in view, for filters',
        description:
          `The distinct grades of the live students of one school (schoolId; 404 when not visible) or of every school the caller may see, ` +
          `in natural order; at most ${MAX_GRADES} (truncated says when there are more).`,
        querystring: GradesQuery,
        response: { 200: GradeList, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => grades.list(principalOf(request), request.query),
  );
}
