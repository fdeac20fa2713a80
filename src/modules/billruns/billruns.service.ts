import type { Db } from '../../db/database.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError } from '../../shared/errors.js';
import { maskName } from '../../shared/masking.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Principal } from '../../shared/policy.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { DraftInvoice } from './assemble.js';
import type { BillRunEngine } from './billruns.engine.js';
import type { BillRunRow, BillRunsRepository } from './billruns.repository.js';
import { billRunRunnerFor } from './billruns.runner.js';
import type { BillRun, BillRunListQuery, BillRunPreview, CreateBillRunBody } from './billruns.schemas.js';

export interface BillRunsDeps {
  db: Db;
  repo: BillRunsRepository;
  engine: BillRunEngine;
  /** Runs of more invoices than this go to a background job (BILL_RUN_INLINE_MAX). */
  inlineMax: number;
}

/** How many invoices a dry run shows in full. */
export const PREVIEW_ROWS = 20;

/** 404 naming the field that named a school the caller cannot see (or that does not exist). */
const schoolNotFound = (where: 'body' | 'querystring') =>
  new AppError('NOT_FOUND', 'school not found', { errors: [{ field: 'schoolId', in: where, message: 'no such school (or not one of yours)' }] });

export function presentRun(row: BillRunRow): BillRun {
  return {
    id: row.id,
    schoolId: row.schoolId,
    through: row.through,
    dryRun: row.dryRun,
    status: row.status,
    invoicesCreated: row.invoicesCreated,
    linesCreated: row.linesCreated,
    skipped: row.skipped,
    totals: row.totals ?? [],
    progress: { done: row.done, total: Math.max(row.total ?? 0, row.done) },
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Bill runs (SPEC §7): POST /bill-runs previews (dryRun: nothing written, not even the
 * run), runs small runs inside the request, and queues larger ones as a pg-boss job
 * keyed by the run id; GET reads a run's progress. Access: billing:write to start a run
 * (super_admin, school_admin in its schools), billing:read to read runs; a school the
 * caller cannot see is a 404.
 */
export function createBillRunsService(deps: BillRunsDeps) {
  const { db, repo, engine } = deps;

  async function previewOf(principal: Principal, schoolId: string, preview: { invoices: number; lines: number; totals: BillRunPreview['totals']; firstRows: DraftInvoice[] }): Promise<BillRunPreview> {
    const names = await repo.studentNames(db, schoolId, [...new Set(preview.firstRows.map((d) => d.studentId))]);
    return {
      invoices: preview.invoices,
      lines: preview.lines,
      totals: preview.totals,
      firstRows: preview.firstRows.map((d) => {
        const name = names.get(d.studentId);
        const studentName = name === undefined ? '' : principal.pii === 'masked' ? maskName(name.firstName, name.lastName) : `${name.firstName} ${name.lastName}`;
        return {
          studentId: d.studentId,
          studentName,
          familyId: d.familyId ?? null,
          payerGuardianId: d.payerGuardianId ?? null,
          dueDate: d.dueDate,
          description: d.description,
          amount: d.lines.reduce((sum, l) => sum + l.amount, 0),
          lines: d.lines.map((l) => ({ kind: l.kind, code: l.code, description: l.description, amount: l.amount, itemCode: l.itemCode ?? null, ruleId: l.ruleId ?? null })),
        };
      }),
    };
  }

  return {
    /** 200 preview (dry run), 201 finished in the request, 202 queued for the background worker. */
    async start(actor: Actor, body: CreateBillRunBody): Promise<{ status: 200 | 201 | 202; run: BillRun }> {
      const principal = requirePrincipal(actor);
      const school = await repo.findSchool(db, principal, body.schoolId);
      if (school === undefined) {
        throw schoolNotFound('body');
      }
      const ctx = await engine.context(db, school, body.through);

      if (body.dryRun === true) {
        const startedAt = new Date().toISOString();
        const preview = await engine.preview(db, ctx, { firstRows: PREVIEW_ROWS });
        return {
          status: 200,
          run: {
            id: null,
            schoolId: school.id,
            through: body.through,
            dryRun: true,
            status: 'finished',
            invoicesCreated: 0,
            linesCreated: 0,
            skipped: preview.skipped,
            totals: preview.totals,
            progress: { done: preview.units, total: preview.units },
            error: null,
            createdAt: null,
            startedAt,
            finishedAt: new Date().toISOString(),
            preview: await previewOf(principal, school.id, preview),
          },
        };
      }

      if (await engine.fitsInline(db, ctx, deps.inlineMax)) {
        const run = await engine.runInline(db, ctx, { requestedBy: principal.userId, actor });
        return { status: 201, run: presentRun(run) };
      }

      const run = await db.transaction().execute(async (trx) => {
        const queued = await repo.insertRun(trx, { schoolId: school.id, through: body.through, status: 'queued', total: await repo.countUnits(trx, school.id), requestedBy: principal.userId });
        await recordAudit(trx, actor, { action: 'bill_run.queue', entityType: 'bill_run', entityId: queued.id, schoolId: school.id, changes: { through: body.through } });
        return queued;
      });
      // Best effort: without a worker in this process (or if this fails) a worker's tick finds the queued run.
      await billRunRunnerFor(db)
        ?.enqueue({ id: run.id, schoolId: run.schoolId })
        .catch(() => undefined);
      return { status: 202, run: presentRun(run) };
    },

    async get(principal: Principal, id: string): Promise<BillRun> {
      const run = await repo.findRun(db, principal, id);
      if (run === undefined) {
        throw new AppError('NOT_FOUND', 'bill run not found');
      }
      return presentRun(run);
    },

    async list(principal: Principal, query: BillRunListQuery & { limit: number }): Promise<Page<BillRun>> {
      if (query.schoolId !== undefined && (await repo.findSchool(db, principal, query.schoolId)) === undefined) {
        throw schoolNotFound('querystring');
      }
      const beforeId = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
      const rows = await repo.listRuns(db, principal, { schoolId: query.schoolId, beforeId, limit: query.limit });
      const page = toPage(rows, query.limit, (row) => [row.id]);
      return { data: page.data.map(presentRun), nextCursor: page.nextCursor };
    },
  };
}

export type BillRunsService = ReturnType<typeof createBillRunsService>;
