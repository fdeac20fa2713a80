import type { Db, Tx } from '../../db/database.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, notFound, unprocessable } from '../../shared/errors.js';
import { maskReference } from '../../shared/masking.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { MoneyRequest } from '../billing/billing.service.js';
import { requestHash, type IdempotentResult } from '../billing/idempotency.js';
import { moneyCallError, runMoneyCall } from '../billing/money-calls.js';
import type {
  ApplyCreditBody,
  CreateFamilyPaymentBody,
  CreditApplied,
  FamilyPayment,
  FamilyPaymentListQuery,
  FamilyPaymentReceipt,
} from './familypayments.schemas.js';
import type { AllocationRow, FamilyPaymentRow, FamilyPaymentsRepository, FamilyRow, RecordFamilyPaymentInput, StoredFamilyPayment } from './familypayments.repository.js';
import { publishPaymentEvents } from '../ledger/ledger.js';
import type { LiveWaker } from '../live/wake.js';

/**
 * The ledger posting this module makes from TypeScript (src/modules/ledger/ledger.ts):
 * family credit applied, in the caller's transaction, under the family row lock and
 * the invoice row locks. A family payment is posted by record_family_payment (migration
 * 0019) through the ledger's SQL posting, ledger_post_family_payment.
 */
export interface FamilyLedger {
  applyCredit(trx: Tx, input: { schoolId: string; familyId: string; invoiceId: string; amount: number; createdBy: string | null }): Promise<{ id: string }>;
}

/**
 * The demo simulator's way through recordFamilyPayment (src/modules/simulator); no
 * route passes one. With it, record_family_payment refuses (FORBIDDEN) unless the
 * school is a demo school the simulator is switched on for and every invoice the
 * payment reaches is demo data (checked under the locks), and declares the transaction
 * the demo's (as the billing service's SimulatedWrite does for one invoice).
 */
export interface SimulatedFamilyWrite {
  demo: true;
}

export interface FamilyPaymentsDeps {
  db: Db;
  repository: FamilyPaymentsRepository;
  ledger: FamilyLedger;
  clock?: Clock;
  /** Wakes the live hubs after a family payment in its own transaction commits (migration 0036); without it the transactions trigger does, in the transaction. */
  live?: LiveWaker;
}

/** Allowed clock skew for a client-supplied paidAt (as POST /payments). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * How far before a school's registration in Bursar a payment may be dated: the same
 * sane window as POST /payments (billing.service.ts, PAID_BEFORE_REGISTRATION_DAYS):
 * the school year under way when it switched, not the books of the system it replaced.
 */
const PAID_BEFORE_REGISTRATION_DAYS = 366;

/** Payment references identify a card or an account: masked to the last 4 for roles that see PII masked. */
const referenceFor = (reference: string | null, scope: Scope) => (reference === null || scope.pii === 'clear' ? reference : maskReference(reference));

function presentFamilyPayment(row: FamilyPaymentRow, allocations: readonly AllocationRow[], scope: Scope): FamilyPayment {
  return {
    id: row.id,
    familyId: row.familyId,
    schoolId: row.schoolId,
    payerGuardianId: row.payerGuardianId,
    amount: row.amount,
    allocated: row.allocated,
    credited: row.credited,
    currency: row.currency,
    receiptNumber: row.receiptNumber,
    method: row.method,
    reference: referenceFor(row.reference, scope),
    paidAt: row.paidAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    allocations: allocations.map(({ paymentId, invoiceId, invoiceNumber, amount }) => ({ paymentId, invoiceId, invoiceNumber, amount })),
  };
}

/** The stored answer for the caller: its reference masked by role, timestamps as ISO 8601 (the API's shape). */
function presentStored(stored: StoredFamilyPayment, scope: Scope): FamilyPaymentReceipt {
  return {
    ...stored,
    reference: referenceFor(stored.reference, scope),
    paidAt: new Date(stored.paidAt).toISOString(),
    createdAt: new Date(stored.createdAt).toISOString(),
    allocations: stored.allocations.map(({ paymentId, invoiceId, invoiceNumber, amount }) => ({ paymentId, invoiceId, invoiceNumber, amount })),
  };
}

/** record_family_payment's refusals (SQLSTATE class BF, migration 0019) as the API's errors; anything else as it is. */
function familyPaymentError(error: unknown): unknown {
  return (error as { code?: unknown }).code === 'BF422' ? unprocessable('payerGuardianId', 'is not a guardian of this family') : moneyCallError(error, 'family');
}

export type FamilyPaymentsService = ReturnType<typeof createFamilyPaymentsService>;

/**
 * Family payments and family credit (SPEC §7). A family payment is one money movement
 * shared out over the family's open invoices, oldest due date first (one payer: only
 * that guardian's invoices); what is left becomes family credit. Everything happens in
 * one transaction under the family row lock and then the invoice locks in (due_date,
 * id) order, through the ledger's postings, with its audit entry; replayed as-is for a
 * repeated Idempotency-Key.
 */
export function createFamilyPaymentsService(deps: FamilyPaymentsDeps) {
  const { db, repository, ledger } = deps;
  const clock = deps.clock ?? systemClock;

  async function visibleFamily(trx: Db | Tx, scope: Scope, id: string, forUpdate = false): Promise<FamilyRow> {
    const family = await repository.findFamily(trx, scope, id, { forUpdate });
    if (!family) {
      throw notFound('family');
    }
    return family;
  }

  return {
    /**
     * One call: record_family_payment (migration 0019) claims the key (or answers the
     * stored response), locks the family row, checks the payer and the date window,
     * locks the family's open invoices oldest due first as far as the money goes,
     * allocates, posts through the ledger's posting, writes the audit entry and stores
     * the answer. When nothing must be written with it (no `alongside`, no `within`, no
     * webhook endpoint listening to payment events) that call is the whole transaction,
     * one round trip; otherwise the payment's events follow it in a transaction. The
     * stored answer is raw; it is masked here for the caller, on a replay too.
     */
    async recordFamilyPayment(
      actor: Actor,
      familyId: string,
      body: CreateFamilyPaymentBody,
      request: MoneyRequest,
      simulated?: SimulatedFamilyWrite,
      /** Runs in the payment's transaction once it is posted, not on a replay (a gateway's record of it: src/modules/gateway). */
      alongside?: (trx: Tx, familyPaymentId: string) => Promise<void>,
      /** The caller's transaction to record it in (a batch: src/modules/reconciliation); its own otherwise. */
      within?: Tx,
    ): Promise<IdempotentResult<FamilyPaymentReceipt>> {
      const principal = requirePrincipal(actor);
      const now = clock.now();
      const paidAt = body.paidAt === undefined ? new Date(now) : new Date(body.paidAt);
      if (paidAt.getTime() > now + FUTURE_TOLERANCE_MS) {
        throw new AppError('VALIDATION_FAILED', 'paidAt is in the future', {
          errors: [{ field: 'paidAt', in: 'body', message: 'must not be in the future' }],
        });
      }
      if (!Number.isSafeInteger(body.amount) || body.amount <= 0) {
        throw unprocessable('amount', 'must be a positive amount of minor units');
      }
      const input: RecordFamilyPaymentInput = {
        user: { id: principal.userId, username: principal.username },
        requestId: actor.requestId ?? null,
        idempotency: { key: request.idempotencyKey, path: request.path, hash: requestHash({ method: 'POST', path: request.path, body }) },
        schoolIds: principal.schoolIds,
        familyId,
        amount: body.amount,
        method: body.method,
        reference: body.reference ?? null,
        paidAt,
        paidAtGiven: body.paidAt !== undefined,
        window: `${PAID_BEFORE_REGISTRATION_DAYS} days`,
        payerGuardianId: body.payerGuardianId ?? null,
        demo: simulated !== undefined,
        wakeAfterCommit: within === undefined && deps.live !== undefined,
      };
      const result = await runMoneyCall(db, {
        within,
        // Nothing to write with it: its own transaction in one round trip, unless someone listens to its events.
        alone: alongside === undefined ? (handle) => repository.recordAlone(handle, input) : undefined,
        // In a transaction, the webhook events (payment.succeeded per allocation,
        // invoice.paid) are written with the payment or not at all (SPEC §9).
        inTransaction: async (trx) => {
          const recorded = await repository.record(trx, input);
          if (!recorded.replayed) {
            await alongside?.(trx, recorded.body.id);
            await publishPaymentEvents(trx, recorded.body.schoolId, recorded.body.allocations.map((allocation) => ({ paymentId: allocation.paymentId, invoiceId: allocation.invoiceId })));
          }
          return recorded;
        },
        refusal: familyPaymentError,
      });
      if (within === undefined && !result.replayed) {
        deps.live?.wake();
      }
      return { status: result.status, body: presentStored(result.body, principal), replayed: result.replayed };
    },

    async listFamilyPayments(scope: Scope, familyId: string, query: FamilyPaymentListQuery & { limit: number }): Promise<Page<FamilyPayment>> {
      const family = await visibleFamily(db, scope, familyId);
      const beforeId = query.cursor ? decodeCursorOf(query.cursor, [cursorPart.uuid])[0] : undefined;
      const rows = await repository.listFamilyPayments(db, family, { limit: query.limit, ...(beforeId === undefined ? {} : { beforeId }) });
      const page = toPage(rows, query.limit, (row) => [row.id]);
      const allocations = await repository.allocationsOf(db, family.schoolId, page.data.map((row) => row.id));
      const byPayment = new Map<string, AllocationRow[]>();
      for (const allocation of allocations) {
        byPayment.set(allocation.familyPaymentId, [...(byPayment.get(allocation.familyPaymentId) ?? []), allocation]);
      }
      return { data: page.data.map((row) => presentFamilyPayment(row, byPayment.get(row.id) ?? [], scope)), nextCursor: page.nextCursor };
    },

    /**
     * Applies the family's credit to its open invoices (or to the given ones), oldest due
     * date first, as far as it goes: under the family row lock, then the invoice locks.
     * Nothing to apply (no credit, or nothing open) is an answer, not an error. Needs no
     * Idempotency-Key: applying is convergent — a repeat applies what is left, which is
     * exactly what the first call would have done with it.
     */
    async applyFamilyCredit(actor: Actor, familyId: string, body: ApplyCreditBody): Promise<CreditApplied> {
      const principal = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const family = await visibleFamily(trx, principal, familyId, true);
        if (body.invoiceIds !== undefined) {
          const known = await repository.invoicesOfFamily(trx, family, body.invoiceIds);
          const stranger = body.invoiceIds.findIndex((id) => !known.has(id));
          if (stranger >= 0) {
            throw unprocessable(`invoiceIds.${stranger}`, 'is not an invoice of this family');
          }
        }
        let credit = family.creditBalance;
        const applications: CreditApplied['applications'] = [];
        if (credit > 0) {
          const open = await repository.lockOpenInvoices(trx, family, body.invoiceIds === undefined ? {} : { invoiceIds: body.invoiceIds });
          for (const invoice of open) {
            if (credit === 0) {
              break;
            }
            const amount = Math.min(credit, invoice.open);
            const applied = await ledger.applyCredit(trx, { schoolId: family.schoolId, familyId: family.id, invoiceId: invoice.id, amount, createdBy: principal.userId });
            applications.push({ id: applied.id, invoiceId: invoice.id, invoiceNumber: invoice.number, amount });
            credit -= amount;
          }
        }
        const applied = applications.reduce((sum, application) => sum + application.amount, 0);
        if (applied > 0) {
          await recordAudit(trx, actor, {
            action: 'family_credit.apply',
            entityType: 'family',
            entityId: family.id,
            schoolId: family.schoolId,
            changes: { applied, applications: applications.map(({ invoiceId, amount }) => ({ invoiceId, amount })) },
          });
        }
        return { familyId: family.id, applied, applications, balance: await repository.balance(trx, family) };
      });
    },
  };
}
