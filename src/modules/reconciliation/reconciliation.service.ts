import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Tx } from '../../db/database.js';
import type { BankLineStatus } from '../../db/types.js';
import { AppError } from '../../shared/errors.js';
import { requirePrincipal, type Actor } from '../../shared/context.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { createBillingService } from '../billing/billing.service.js';
import type { createFamilyPaymentsService } from '../familypayments/familypayments.service.js';
import { postRefund } from '../ledger/ledger.js';
import { decide, namedIn, type Decision } from './matcher.js';
import type { BankLineRow, ReconciliationRepository, ReconciliationSchool, StoredLine } from './reconciliation.repository.js';
import { sampleLines, writeStatement } from './sample.js';
import { parseStatement, StatementError, type CsvMapping, type StatementFormat } from './statements.js';
import { todayIn } from '../../shared/time.js';

export interface ImportResult {
  id: string;
  schoolId: string;
  format: StatementFormat;
  /** Lines in the file (in-file repeats dropped). */
  lines: number;
  /** Of the new lines: matched (payment recorded), suggested, unmatched, ignored (money paid out). */
  matched: number;
  suggested: number;
  unmatched: number;
  ignored: number;
  /** Lines the school already had (this file again, or an overlapping statement) plus repeats inside the file: nothing added for them. */
  duplicates: number;
  createdAt: string;
}

export interface MatchBody {
  invoiceId?: string;
  familyId?: string;
}

export interface ReconciliationDeps {
  db: Db;
  repo: ReconciliationRepository;
  billing: ReturnType<typeof createBillingService>;
  familyPayments: ReturnType<typeof createFamilyPaymentsService>;
  clock?: Clock;
}

const invalid = (field: string, message: string, where: 'querystring' | 'body' = 'querystring') =>
  new AppError('VALIDATION_FAILED', `${field} ${message}`, { errors: [{ field, in: where, message }] });
const notFound = (what: string, field: string, where: 'params' | 'querystring' | 'body') =>
  new AppError('NOT_FOUND', `${what} not found`, { errors: [{ field, in: where, message: `no such ${what} (or not one of yours)` }] });

/** The booking date as the instant a payment is dated: noon UTC of that day (the same date in the Americas), never later than now. */
function paidAtOf(bookedOn: string, now: number): string {
  return new Date(Math.min(Date.parse(`${bookedOn}T12:00:00Z`), now)).toISOString();
}

const PAYMENT_REFERENCE_MAX = 120;
/**
 * The automatic matches of an import recorded per transaction. A batch holds the school's
 * receipt counter until it commits, so online payments of that school wait for at most
 * one batch (100 payments: some 0.3–0.6 s on two cores).
 */
const MATCH_BATCH = 100;
const afterId = (cursor: string) => decodeCursorOf(cursor, [cursorPart.uuid])[0];
const byId = (row: { id: string }) => [row.id];

/**
 * Bank reconciliation (SPEC §9): a statement in, its lines stored once per bank
 * transaction id, each matched to an invoice or a family by what its text names and its
 * amount; a confident match records the payment (through billing or family payments, so
 * receipts, rollups and the audit log follow), the rest wait in the exceptions queue.
 * A line's payment is recorded once: the line row is updated in the payment's own
 * transaction only while it has none. Unmatching is an explicit, audited reversal.
 */
export function createReconciliationService(deps: ReconciliationDeps) {
  const { db, repo, billing, familyPayments } = deps;
  const clock = deps.clock ?? systemClock;

  async function school(scope: Scope, id: string, where: 'querystring' | 'params' = 'querystring'): Promise<ReconciliationSchool> {
    const found = await repo.findSchool(db, scope, id);
    if (found === undefined) {
      throw notFound('school', where === 'params' ? 'id' : 'schoolId', where);
    }
    return found;
  }

  /**
   * Records the payment a line stands for — on one invoice, or a family payment allocated
   * oldest due first — and marks the line matched in the same transaction. Throws when
   * the line was matched meanwhile (409) or the payment is refused (its own error).
   */
  async function recordLinePayment(
    actor: Actor,
    line: { id: string; schoolId: string; amount: number; bookedOn: string; bankTransactionId: string },
    target: { invoiceId: string | null; familyId: string | null },
    reason: string,
    within?: Tx,
  ): Promise<void> {
    const principal = requirePrincipal(actor);
    const request = { idempotencyKey: randomUUID(), path: `/api/v1/reconciliation/lines/${line.id}/match` };
    const common = { amount: line.amount, method: 'bank_transfer' as const, paidAt: paidAtOf(line.bookedOn, clock.now()), reference: `bank ${line.bankTransactionId}`.slice(0, PAYMENT_REFERENCE_MAX) };
    const mark = async (trx: Tx, ids: { paymentId?: string; familyPaymentId?: string }): Promise<void> => {
      const marked = await repo.recordMatch(trx, { schoolId: line.schoolId, lineId: line.id, ...target, ...ids, userId: principal.userId, reason });
      if (!marked) {
        throw new AppError('CONFLICT', 'the bank line is already matched; unmatch it first', { errors: [{ field: 'id', in: 'params', message: 'already matched' }] });
      }
      await recordAudit(trx, actor, { action: 'reconciliation.match', entityType: 'bank_line', entityId: line.id, schoolId: line.schoolId, changes: { ...target, ...ids, amount: line.amount, reason } });
    };
    if (target.invoiceId !== null) {
      await billing.recordPayment(actor, { invoiceId: target.invoiceId, ...common }, request, undefined, (trx, paymentId) => mark(trx, { paymentId }), within);
    } else if (target.familyId !== null) {
      await familyPayments.recordFamilyPayment(actor, target.familyId, common, request, undefined, (trx, familyPaymentId) => mark(trx, { familyPaymentId }), within);
    }
  }

  /** Stores what the matcher decided and records the confident matches; a match the ledger refuses (paid meanwhile) waits as an exception. */
  async function matchNewLines(actor: Actor, found: ReconciliationSchool, added: StoredLine[]): Promise<void> {
    const named = added.map((line) => ({ line, named: namedIn(line.description) }));
    const candidates = await repo.candidates(db, found.id, {
      invoices: [...new Set(named.flatMap((n) => n.named.invoices))],
      references: [...new Set(named.flatMap((n) => n.named.references))],
      stems: [...new Set(named.flatMap((n) => n.named.mistyped))],
      amounts: [...new Set(named.filter((n) => n.line.amount > 0 && n.named.invoices.length + n.named.references.length === 0).map((n) => n.line.amount))],
    });
    const decisions: { id: string; decision: Decision }[] = named.map((n) => ({ id: n.line.id, decision: decide({ amount: n.line.amount, named: n.named }, candidates) }));
    await repo.decide(db, found.id, decisions);
    const lineById = new Map(added.map((line) => [line.id, line]));
    const matches = decisions.flatMap(({ id, decision }) => {
      const line = lineById.get(id);
      return decision.status === 'matched' && line !== undefined
        ? [{ line: { ...line, schoolId: found.id }, target: decision.invoiceId !== null ? { invoiceId: decision.invoiceId, familyId: null } : { invoiceId: null, familyId: decision.familyId }, reason: decision.reason }]
        : [];
    });
    type Match = (typeof matches)[number];
    const one = async (match: Match): Promise<void> => {
      try {
        await recordLinePayment(actor, match.line, match.target, match.reason);
      } catch (error) {
        if (!(error instanceof AppError)) {
          throw error;
        }
        // Paid or changed since the statement was read: a person decides (the suggestion stays).
        await repo.setStatus(db, { schoolId: found.id, lineId: match.line.id, status: 'suggested', reason: error.code.toLowerCase(), userId: requirePrincipal(actor).userId });
      }
    };
    // Payments on one invoice, MATCH_BATCH per transaction: one commit, and one wake-up
    // of the live feed, per batch instead of per payment. The batch's invoices are locked
    // first, all at once, in the order every writer takes invoices (due date, id); its
    // postings take the school's rows only after that, as a single payment does — so a
    // batch cannot deadlock with the payments made meanwhile. A batch the ledger refuses
    // anything in (paid meanwhile) is rolled back whole and its lines recorded one at a
    // time, as family payments always are (they lock their family row first).
    const direct = matches.filter((match) => match.target.invoiceId !== null);
    for (let start = 0; start < direct.length; start += MATCH_BATCH) {
      const batch = direct.slice(start, start + MATCH_BATCH);
      try {
        await db.transaction().execute(async (trx) => {
          await repo.lockInvoices(trx, found.id, batch.map((match) => match.target.invoiceId ?? ''));
          for (const match of batch) {
            await recordLinePayment(actor, match.line, match.target, match.reason, trx);
          }
        });
      } catch (error) {
        if (!(error instanceof AppError)) {
          throw error;
        }
        for (const match of batch) {
          await one(match);
        }
      }
    }
    for (const match of matches.filter((m) => m.target.invoiceId === null)) {
      await one(match);
    }
  }

  return {
    async importStatement(actor: Actor, query: { schoolId: string; format: StatementFormat }, body: Buffer): Promise<ImportResult> {
      const principal = requirePrincipal(actor);
      const found = await school(principal, query.schoolId);
      const mapping = query.format === 'csv' ? (await repo.mapping(db, found.id))?.mapping : undefined;
      let parsed;
      try {
        parsed = parseStatement(body, query.format, { currency: found.currency, ...(mapping === undefined ? {} : { mapping }) });
      } catch (error) {
        if (error instanceof StatementError) {
          // The mapping is the school's saved one, not part of this request: the file is what does not fit it.
          const byMapping = error.field.startsWith('mapping.');
          const field = byMapping ? 'body' : error.field;
          const message = byMapping ? `${error.message} (read by the school’s saved CSV mapping, /schools/${found.id}/statement-mapping)` : error.message;
          throw new AppError('VALIDATION_FAILED', `the statement cannot be read: ${message}`, {
            errors: [{ field, in: field === 'format' || field === 'currency' ? 'querystring' : 'body', message }],
          });
        }
        throw error;
      }
      const { importId, added } = await db.transaction().execute(async (trx) => {
        const stored = await repo.storeImport(trx, { schoolId: found.id, format: query.format, currency: found.currency, lines: parsed.lines, repeats: parsed.duplicates, userId: principal.userId });
        await recordAudit(trx, actor, {
          action: 'reconciliation.import',
          entityType: 'bank_import',
          entityId: stored.importId,
          schoolId: found.id,
          changes: { format: query.format, lines: parsed.lines.length, added: stored.added.length, repeats: parsed.duplicates },
        });
        return stored;
      });
      await matchNewLines(actor, found, added);
      const summary = await repo.importSummary(db, found.id, importId);
      return {
        id: summary.id,
        schoolId: summary.schoolId,
        format: summary.format,
        lines: summary.lines,
        matched: Number(summary.matched),
        suggested: Number(summary.suggested),
        unmatched: Number(summary.unmatched),
        ignored: Number(summary.ignored),
        duplicates: summary.known + summary.repeats,
        createdAt: summary.createdAt.toISOString(),
      };
    },

    async listLines(scope: Scope, query: { schoolId: string; status?: BankLineStatus; importId?: string; cursor?: string; limit: number }): Promise<Page<BankLineRow> & { counts: Record<BankLineStatus, number> }> {
      const found = await school(scope, query.schoolId);
      const rows = await repo.lines(db, { schoolId: found.id, limit: query.limit, ...(query.status === undefined ? {} : { status: query.status }), ...(query.importId === undefined ? {} : { importId: query.importId }), ...(query.cursor === undefined ? {} : { afterId: afterId(query.cursor) }) });
      return { ...toPage(rows, query.limit, byId), counts: await repo.counts(db, found.id) };
    },

    /**
     * Matches a line by hand: to the invoice or family given, or (no body) to what the
     * line suggests — the payment is recorded once, dated the booking day.
     */
    async matchLine(actor: Actor, id: string, body: MatchBody): Promise<BankLineRow> {
      const principal = requirePrincipal(actor);
      if (body.invoiceId !== undefined && body.familyId !== undefined) {
        throw invalid('invoiceId', 'and familyId: give one of them', 'body');
      }
      const line = await repo.line(db, principal, id);
      if (line === undefined) {
        throw notFound('bank line', 'id', 'params');
      }
      if (line.status === 'matched') {
        throw new AppError('CONFLICT', 'the bank line is already matched; unmatch it first', { errors: [{ field: 'id', in: 'params', message: 'already matched' }] });
      }
      if (line.amount <= 0) {
        throw new AppError('BUSINESS_RULE_VIOLATION', 'money paid out is not a family’s payment', { errors: [{ field: 'id', in: 'params', message: 'the line is a debit' }] });
      }
      const target =
        body.invoiceId !== undefined ? { invoiceId: body.invoiceId, familyId: null }
        : body.familyId !== undefined ? { invoiceId: null, familyId: body.familyId }
        : line.invoice !== null ? { invoiceId: line.invoice.id, familyId: null }
        : line.family !== null ? { invoiceId: null, familyId: line.family.id }
        : undefined;
      if (target === undefined) {
        throw invalid('invoiceId', 'or familyId is required: the line suggests nothing', 'body');
      }
      try {
        await recordLinePayment(actor, { id: line.id, schoolId: line.schoolId, amount: line.amount, bookedOn: line.date, bankTransactionId: line.bankTransactionId }, target, 'manual');
      } catch (error) {
        // The invoice or family is named by the body (or the suggestion): say so, not the payment's own field.
        if (error instanceof AppError && (error.code === 'NOT_FOUND' || error.code === 'OVERPAYMENT' || error.code === 'INVOICE_CANCELLED')) {
          const field = target.invoiceId !== null ? 'invoiceId' : 'familyId';
          throw new AppError(error.code, error.code === 'OVERPAYMENT' ? `${error.message}; match the line to the family instead (the rest becomes family credit)` : error.message, {
            errors: [{ field, in: 'body', message: error.message }],
          });
        }
        throw error;
      }
      return (await repo.line(db, principal, id))!;
    },

    /** Sets a line aside (money paid out, a transfer between the school's accounts, …); never a matched one. */
    async ignoreLine(actor: Actor, id: string, reason: string | undefined): Promise<BankLineRow> {
      const principal = requirePrincipal(actor);
      await db.transaction().execute(async (trx) => {
        const line = await repo.lockLine(trx, principal, id);
        if (line === undefined) {
          throw notFound('bank line', 'id', 'params');
        }
        if (line.status === 'matched') {
          throw new AppError('CONFLICT', 'the bank line is matched; unmatch it first', { errors: [{ field: 'id', in: 'params', message: 'matched' }] });
        }
        await repo.setStatus(trx, { schoolId: line.schoolId, lineId: line.id, status: 'ignored', reason: reason ?? 'ignored', userId: principal.userId });
        await recordAudit(trx, actor, { action: 'reconciliation.ignore', entityType: 'bank_line', entityId: line.id, schoolId: line.schoolId, changes: { reason: reason ?? null } });
      });
      return (await repo.line(db, principal, id))!;
    },

    /**
     * Unmatches a line: an explicit reversal, never a silent one. The payments the match
     * recorded are refunded (reason given, audited) under their invoices' locks, then the
     * line waits again as unmatched. A family payment that left family credit is not
     * reversed here (the credit may be spent): 409, refund it by hand.
     */
    async unmatchLine(actor: Actor, id: string, reason: string): Promise<BankLineRow> {
      const principal = requirePrincipal(actor);
      const before = await repo.line(db, principal, id);
      if (before === undefined) {
        throw notFound('bank line', 'id', 'params');
      }
      if (before.status !== 'matched') {
        throw new AppError('CONFLICT', 'the bank line is not matched', { errors: [{ field: 'id', in: 'params', message: `it is ${before.status}` }] });
      }
      await db.transaction().execute(async (trx) => {
        const payments = await trx
          .selectFrom('payments')
          .innerJoin('invoices', (join) => join.onRef('invoices.school_id', '=', 'payments.school_id').onRef('invoices.id', '=', 'payments.invoice_id'))
          .select(['payments.id', 'payments.invoice_id as invoiceId', 'payments.amount'])
          .select(sql<string>`(select coalesce(sum(r.amount), 0) from refunds r where r.school_id = payments.school_id and r.payment_id = payments.id)`.as('refundedAmount'))
          .where('payments.school_id', '=', before.schoolId)
          .where((eb) => (before.paymentId !== null ? eb('payments.id', '=', before.paymentId) : eb('payments.family_payment_id', '=', before.familyPaymentId)))
          .orderBy('invoices.due_date')
          .orderBy('invoices.id')
          .execute();
        // The invoices first, in the order payments lock them, then the line: the order a match takes.
        for (const payment of payments) {
          await trx.selectFrom('invoices').select('id').where('school_id', '=', before.schoolId).where('id', '=', payment.invoiceId).forUpdate().execute();
        }
        const line = await repo.lockLine(trx, principal, id);
        if (line === undefined || line.status !== 'matched' || line.paymentId !== before.paymentId || line.familyPaymentId !== before.familyPaymentId) {
          throw new AppError('CONFLICT', 'the bank line changed meanwhile; reload it', { errors: [{ field: 'id', in: 'params', message: 'changed' }] });
        }
        if (line.familyPaymentId !== null) {
          const credited = await trx.selectFrom('family_payments').select('credited').where('school_id', '=', line.schoolId).where('id', '=', line.familyPaymentId).executeTakeFirstOrThrow();
          if (Number(credited.credited) > 0) {
            throw new AppError('CONFLICT', `the family payment left ${credited.credited} as family credit, which may be spent; reverse it by hand`, {
              errors: [{ field: 'id', in: 'params', message: 'the match made family credit' }],
            });
          }
        }
        const refunds: { refundId: string; paymentId: string; amount: number }[] = [];
        for (const payment of payments) {
          const open = Number(payment.amount) - Number(payment.refundedAmount);
          if (open > 0) {
            const refund = await postRefund(trx, { schoolId: line.schoolId, paymentId: payment.id, invoiceId: payment.invoiceId, amount: open, reason: `bank line unmatched: ${reason}`, createdBy: principal.userId });
            refunds.push({ refundId: refund.id, paymentId: payment.id, amount: open });
            await recordAudit(trx, actor, { action: 'refund.create', entityType: 'refund', entityId: refund.id, schoolId: line.schoolId, changes: { paymentId: payment.id, amount: open, reason: `bank line unmatched: ${reason}` } });
          }
        }
        await repo.setStatus(trx, { schoolId: line.schoolId, lineId: line.id, status: 'unmatched', reason: 'unmatched', userId: principal.userId });
        await recordAudit(trx, actor, {
          action: 'reconciliation.unmatch',
          entityType: 'bank_line',
          entityId: line.id,
          schoolId: line.schoolId,
          changes: { reason, paymentId: line.paymentId, familyPaymentId: line.familyPaymentId, refunds },
        });
      });
      return (await repo.line(db, principal, id))!;
    },

    /**
     * A statement a demo school's bank could send today, written from its open bills (the
     * demo of reconciliation: download, then import). Demo schools only: a real school's
     * statement comes from its bank.
     */
    async sampleStatement(scope: Scope, schoolId: string, format: StatementFormat): Promise<{ file: Buffer; name: string }> {
      const found = await school(scope, schoolId);
      const demo = await db.selectFrom('schools').select('is_demo').where('id', '=', found.id).executeTakeFirstOrThrow();
      if (!demo.is_demo) {
        throw new AppError('NOT_FOUND', 'sample statements are written for demo schools only', {
          errors: [{ field: 'schoolId', in: 'querystring', message: 'not a demo school: its statements come from its bank' }],
        });
      }
      const day = todayIn(found.timezone, new Date(clock.now()));
      const mapping = format === 'csv' ? (await repo.mapping(db, found.id))?.mapping : undefined;
      const file = writeStatement(await sampleLines(db, found.id, day), format, { currency: found.currency, id: `DEMO-${found.id.slice(-12)}`, ...(mapping === undefined ? {} : { mapping }) });
      return { file, name: `statement-${day}.${format === 'camt053' ? 'xml' : format}` };
    },

    async getMapping(scope: Scope, schoolId: string): Promise<{ schoolId: string; mapping: CsvMapping; updatedAt: string | null }> {
      const found = await school(scope, schoolId, 'params');
      const saved = await repo.mapping(db, found.id);
      return { schoolId: found.id, mapping: saved?.mapping ?? {}, updatedAt: saved?.updatedAt.toISOString() ?? null };
    },

    async putMapping(actor: Actor, schoolId: string, mapping: CsvMapping): Promise<{ schoolId: string; mapping: CsvMapping; updatedAt: string | null }> {
      const principal = requirePrincipal(actor);
      const found = await school(principal, schoolId, 'params');
      return db.transaction().execute(async (trx) => {
        const updatedAt = await repo.putMapping(trx, found.id, mapping, principal.userId);
        await recordAudit(trx, actor, { action: 'reconciliation.mapping', entityType: 'school', entityId: found.id, schoolId: found.id, changes: { ...mapping } });
        return { schoolId: found.id, mapping, updatedAt: updatedAt.toISOString() };
      });
    },
  };
}

export type ReconciliationService = ReturnType<typeof createReconciliationService>;
