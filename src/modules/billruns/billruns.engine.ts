import type { Db, DbOrTx, Tx } from '../../db/database.js';
import type { Actor } from '../../shared/context.js';
import { recordAudit } from '../audit/audit.repository.js';
import { addTotals, assembleInvoices, totalsList, type DraftInvoice, type Instalment, type ItemTotal } from './assemble.js';
import type { BillRunRow, BillRunsRepository, DueArrays, SchoolForRun } from './billruns.repository.js';
import type { RuleForBilling } from '../discounts/apply.js';
import { loadRulesForBilling } from '../discounts/discounts.repository.js';
import { applyCredit, postInvoices } from '../ledger/ledger.js';

/**
 * The bill run engine (SPEC §7): what is due and not billed yet becomes invoices, in
 * batches of billing units (a family with all its students, or a student without a
 * family), each batch one transaction that
 *   1. takes the school's bill-run advisory lock (two runs of one school, or a run and
 *      its retry, never bill the same batch at once; the second one finds it billed),
 *   2. reads the unbilled instalments of its units (one set-based query, anti-joined
 *      to the charge lines already billed),
 *   3. locks the families with credit FOR UPDATE (family before its invoices),
 *   4. posts the invoices and their lines through the ledger (one multi-row insert
 *      each; the unique billing key of every charge line is the last line of defence),
 *   5. applies each family's credit to its new invoices, oldest due first.
 * Memory is bounded by the batch: units are walked by keyset, never loaded at once.
 */

/** Billing units (families or lone students) per batch transaction: about ten invoices each, so a few thousand per batch. */
export const UNITS_PER_BATCH = 400;
/** A run is decided small enough for the request only within this many batches of units; a larger school always runs in the background. */
export const INLINE_MAX_BATCHES = 3;

/** PostgreSQL errors after which a batch is simply tried again: a unique billing key taken by a concurrent writer, a deadlock, a serialisation failure. */
const RETRYABLE = new Set(['23505', '40P01', '40001']);
const BATCH_ATTEMPTS = 3;

export interface RunContext {
  school: SchoolForRun;
  through: string;
  due: DueArrays;
}

/** Of a batch of billing units of a school, those a run may bill (in the same order). */
export type UnitFilter = (db: DbOrTx, schoolId: string, units: readonly string[]) => Promise<string[]>;

export interface BatchResult {
  invoices: { id: string; number: string; amount: number }[];
  lines: number;
  /** Instalments due that were billed already. */
  skipped: number;
  totals: ItemTotal[];
  creditApplied: number;
}

/** Billing order: student, due date, item position, item code, enrolment (plain code-unit comparisons, no collation). */
function byStudentDueItem(a: Instalment, b: Instalment): number {
  return cmp(a.studentId, b.studentId) || cmp(a.dueDate, b.dueDate) || a.itemPosition - b.itemPosition || cmp(a.itemCode, b.itemCode) || cmp(a.enrolmentId, b.enrolmentId);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function createBillRunEngine(repo: BillRunsRepository) {
  async function context(db: DbOrTx, school: SchoolForRun, through: string): Promise<RunContext> {
    return { school, through, due: await repo.dueArrays(db, school.id, through) };
  }

  /** The unbilled instalments due of these units, ordered by student, due date and item, and how many due were billed already. */
  async function instalmentsOf(db: DbOrTx, ctx: RunContext, units: readonly string[]): Promise<{ instalments: Instalment[]; skipped: number }> {
    const schoolId = ctx.school.id;
    const rows = await repo.enrolmentsDue(db, schoolId, ctx.due, units);
    const skipped = rows.reduce((sum, row) => sum + row.billed, 0);
    const open = rows.filter((row) => row.due.length > 0);
    if (open.length === 0) {
      return { instalments: [], skipped };
    }
    const payers = await repo.payers(db, schoolId, open.map((row) => row.enrolmentId));
    const siblings = open.some((row) => row.familyId !== null) ? await repo.siblingNumbers(db, schoolId, units) : new Map<string, number>();
    const { due } = ctx;
    const instalments: Instalment[] = [];
    for (const row of open) {
      const rowPayers = payers.get(row.enrolmentId) ?? [];
      const siblingNumber = row.familyId === null ? null : (siblings.get(row.studentId) ?? null);
      for (const k of row.due) {
        instalments.push({
          enrolmentId: row.enrolmentId,
          studentId: row.studentId,
          familyId: row.familyId,
          itemCode: due.itemCodes[k] ?? '',
          itemDescription: due.descriptions[k] ?? '',
          itemPosition: due.positions[k] ?? 0,
          dueDate: due.dueDates[k] ?? '',
          amount: due.amounts[k] ?? 0,
          early: due.early[k] ?? null,
          siblingNumber,
          payers: rowPayers,
        });
      }
    }
    instalments.sort(byStudentDueItem);
    return { instalments, skipped };
  }

  /** The invoices of these units that are due and not billed (reads only); with `keep`, only the first `keep` built in full (see assembleInvoices). */
  async function draft(db: DbOrTx, ctx: RunContext, units: readonly string[], billRunId: string | null, keep?: number) {
    const { instalments, skipped } = await instalmentsOf(db, ctx, units);
    // The school's sibling rules and these students' awards (the discounts module's loader).
    const { siblingRules, awardsByStudent } = await loadRulesForBilling(db, ctx.school.id, [...new Set(instalments.map((i) => i.studentId))]);
    const rules = new Map<string, readonly RuleForBilling[]>();
    const totals = new Map<string, ItemTotal>();
    const assembled = assembleInvoices(
      instalments,
      {
        schoolId: ctx.school.id,
        billRunId,
        currency: ctx.school.currency,
        language: ctx.school.language,
        rulesFor: (studentId) => {
          let list = rules.get(studentId);
          if (list === undefined) {
            const awarded = awardsByStudent.get(studentId);
            list = awarded === undefined ? siblingRules : [...siblingRules, ...awarded];
            rules.set(studentId, list);
          }
          return list;
        },
      },
      totals,
      keep === undefined ? {} : { keep },
    );
    return { drafts: assembled.invoices, invoiceCount: assembled.invoiceCount, lineCount: assembled.lineCount, skipped, totals: totalsList(totals) };
  }

  /** One batch, in the caller's transaction (see the header). */
  async function billBatch(trx: Tx, ctx: RunContext, run: { id: string; requestedBy: string | null }, units: readonly string[]): Promise<BatchResult> {
    const schoolId = ctx.school.id;
    await repo.lockSchool(trx, schoolId);
    const { drafts, lineCount, skipped, totals } = await draft(trx, ctx, units, run.id);
    if (drafts.length === 0) {
      return { invoices: [], lines: 0, skipped, totals, creditApplied: 0 };
    }
    const families = [...new Set(drafts.flatMap((d) => (d.familyId ? [d.familyId] : [])))].sort();
    const credit = await repo.lockFamiliesWithCredit(trx, schoolId, families);
    const invoices = await postInvoices(trx, drafts);
    let creditApplied = 0;
    if (credit.size > 0) {
      // Oldest due first within each family (then by id, the ledger's lock order).
      const open = drafts
        .map((d, i) => ({ familyId: d.familyId ?? null, dueDate: d.dueDate, invoice: invoices[i] }))
        .filter((x): x is { familyId: string; dueDate: string; invoice: { id: string; number: string; amount: number } } => x.familyId !== null && x.invoice !== undefined && credit.has(x.familyId))
        .sort((a, b) => cmp(a.familyId, b.familyId) || cmp(a.dueDate, b.dueDate) || cmp(a.invoice.id, b.invoice.id));
      for (const x of open) {
        const left = credit.get(x.familyId) ?? 0;
        const amount = Math.min(left, x.invoice.amount);
        if (amount <= 0) {
          continue;
        }
        await applyCredit(trx, { schoolId, familyId: x.familyId, invoiceId: x.invoice.id, amount, createdBy: run.requestedBy });
        credit.set(x.familyId, left - amount);
        creditApplied += amount;
      }
    }
    return { invoices, lines: lineCount, skipped, totals, creditApplied };
  }

  /**
   * Walks the school's billing units in batches of `size`, keyset by unit key; with
   * `only`, just the units it keeps of each batch (the demo simulator bills only the
   * demo's own families, never a person's).
   */
  async function* unitBatches(db: DbOrTx, schoolId: string, size: number, only?: UnitFilter): AsyncGenerator<string[]> {
    let after: string | null = null;
    for (;;) {
      const units = await repo.nextUnits(db, schoolId, after, size);
      const last = units.at(-1);
      if (last === undefined) {
        return;
      }
      const kept = only === undefined ? units : await only(db, schoolId, units);
      if (kept.length > 0) {
        yield kept;
      }
      if (units.length < size) {
        return;
      }
      after = last;
    }
  }

  /**
   * Runs `work` in a transaction, again when it failed for a reason a retry cures (see
   * RETRYABLE). Given a transaction already (the demo seed and simulator bill inside
   * their own), runs in it, once: the caller owns the transaction and its retry.
   */
  async function inTransaction<T>(db: Db, work: (trx: Tx) => Promise<T>): Promise<T> {
    if (db.isTransaction) {
      return work(db as Tx);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(work);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= BATCH_ATTEMPTS || typeof code !== 'string' || !RETRYABLE.has(code)) {
          throw error;
        }
      }
    }
  }

  return {
    context,

    /**
     * Whether a run is small enough to finish inside the request: at most `inlineMax`
     * invoices, found within INLINE_MAX_BATCHES batches of units (reads only; it stops
     * as soon as the answer is known).
     */
    async fitsInline(db: Db, ctx: RunContext, inlineMax: number, options: { unitsPerBatch?: number } = {}): Promise<boolean> {
      if (ctx.due.dueDates.length === 0) {
        return true;
      }
      let invoices = 0;
      let batches = 0;
      for await (const units of unitBatches(db, ctx.school.id, options.unitsPerBatch ?? UNITS_PER_BATCH)) {
        if (++batches > INLINE_MAX_BATCHES) {
          return false;
        }
        // A school that is clearly too large is told apart without drafting it (payers,
        // siblings, discounts, assembly): one invoice at least per student and due date
        // still to bill.
        const rows = await repo.enrolmentsDue(db, ctx.school.id, ctx.due, units);
        const atLeast = new Set(rows.flatMap((row) => row.due.map((k) => `${row.studentId}/${ctx.due.dueDates[k] ?? ''}`))).size;
        if (invoices + atLeast > inlineMax) {
          return false;
        }
        invoices += (await draft(db, ctx, units, null, 0)).invoiceCount;
        if (invoices > inlineMax) {
          return false;
        }
      }
      return true;
    },

    /** A dry run: every batch drafted, nothing written; counts, totals and the first `firstRows` invoices. */
    async preview(db: Db, ctx: RunContext, options: { firstRows: number; unitsPerBatch?: number }) {
      const totals = new Map<string, ItemTotal>();
      const first: DraftInvoice[] = [];
      let invoices = 0;
      let lines = 0;
      let skipped = 0;
      let units = 0;
      if (ctx.due.dueDates.length > 0) {
        for await (const batch of unitBatches(db, ctx.school.id, options.unitsPerBatch ?? UNITS_PER_BATCH)) {
          const drafted = await draft(db, ctx, batch, null, options.firstRows - first.length);
          invoices += drafted.invoiceCount;
          lines += drafted.lineCount;
          skipped += drafted.skipped;
          units += batch.length;
          addTotals(totals, drafted.totals);
          first.push(...drafted.drafts);
        }
      }
      return { invoices, lines, skipped, units, totals: totalsList(totals), firstRows: first };
    },

    /**
     * A small run inside the request: the run row, every invoice, the credit applied and
     * the audit entry in one transaction (the school's lock held throughout).
     */
    async runInline(db: Db, ctx: RunContext, input: { requestedBy: string | null; actor: Actor | null; only?: UnitFilter }): Promise<BillRunRow> {
      return inTransaction(db, async (trx) => {
        await repo.lockSchool(trx, ctx.school.id);
        const total = await repo.countUnits(trx, ctx.school.id);
        const run = await repo.insertRun(trx, { schoolId: ctx.school.id, through: ctx.through, status: 'running', total, requestedBy: input.requestedBy });
        const totals = new Map<string, ItemTotal>();
        let creditApplied = 0;
        if (ctx.due.dueDates.length > 0) {
          for await (const units of unitBatches(trx, ctx.school.id, UNITS_PER_BATCH, input.only)) {
            const batch = await billBatch(trx, ctx, { id: run.id, requestedBy: input.requestedBy }, units);
            addTotals(totals, batch.totals);
            creditApplied += batch.creditApplied;
            await repo.recordProgress(trx, run, { invoices: batch.invoices.length, lines: batch.lines, skipped: batch.skipped, done: units.length, totals: totalsList(totals) });
          }
        }
        const finished = await repo.finishRun(trx, run);
        await recordAudit(trx, input.actor, {
          action: 'bill_run.run',
          entityType: 'bill_run',
          entityId: run.id,
          schoolId: ctx.school.id,
          changes: { through: ctx.through, invoicesCreated: finished.invoicesCreated, linesCreated: finished.linesCreated, skipped: finished.skipped, creditApplied },
        });
        return finished;
      });
    },

    /**
     * A background run (the pg-boss job's handler): claims the run, bills batch after
     * batch (each its own transaction, with the run's progress: units walked of the
     * school's units), then marks it finished. On the worker's own connection, which
     * holds the run's session lock throughout: a second worker handed the same run finds
     * the lock taken and does nothing, and a run whose process died is recognised by
     * its lock being gone. A run that fails is recorded as failed with its error; what
     * its finished batches billed stays billed, and a new run bills the rest.
     */
    async runBackground(db: Db, runId: string, options: { unitsPerBatch?: number } = {}): Promise<BillRunRow | undefined> {
      return db.connection().execute(async (conn) => {
        if (!(await repo.tryLockRun(conn, runId))) {
          return undefined;
        }
        try {
          const queued = await repo.findRun(conn, { schoolIds: 'all', pii: 'clear' }, runId);
          if (queued === undefined || (queued.status !== 'queued' && queued.status !== 'running')) {
            return undefined;
          }
          const run = await repo.claimRun(conn, runId, await repo.countUnits(conn, queued.schoolId));
          if (run === undefined) {
            return undefined;
          }
          try {
            const school = await repo.findSchool(conn, { schoolIds: [run.schoolId], pii: 'clear' }, run.schoolId);
            if (school === undefined) {
              throw new Error('the school no longer exists');
            }
            const ctx = await context(conn, school, run.through);
            let totals = new Map<string, ItemTotal>();
            addTotals(totals, run.totals ?? []);
            if (ctx.due.dueDates.length > 0) {
              for await (const units of unitBatches(conn, school.id, options.unitsPerBatch ?? UNITS_PER_BATCH)) {
                totals = await inTransaction(conn, async (trx) => {
                  const batch = await billBatch(trx, ctx, run, units);
                  const all = new Map([...totals].map(([k, v]) => [k, { ...v }]));
                  addTotals(all, batch.totals);
                  await repo.recordProgress(trx, run, { invoices: batch.invoices.length, lines: batch.lines, skipped: batch.skipped, done: units.length, totals: totalsList(all) });
                  return all;
                });
              }
            }
            return await inTransaction(conn, async (trx) => {
              const finished = await repo.finishRun(trx, run);
              await recordAudit(trx, null, {
                action: 'bill_run.finish',
                entityType: 'bill_run',
                entityId: run.id,
                schoolId: run.schoolId,
                changes: { through: run.through, invoicesCreated: finished.invoicesCreated, linesCreated: finished.linesCreated, skipped: finished.skipped },
              });
              return finished;
            });
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            return await inTransaction(conn, async (trx) => {
              const failed = await repo.failRun(trx, runId, message);
              await recordAudit(trx, null, { action: 'bill_run.fail', entityType: 'bill_run', entityId: runId, schoolId: run.schoolId, changes: { error: message } });
              return failed;
            });
          }
        } finally {
          await repo.unlockRun(conn, runId);
        }
      });
    },
  };
}

export type BillRunEngine = ReturnType<typeof createBillRunEngine>;
