import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Db, Tx } from '../../db/database.js';
import type { GatewayProvider, Language } from '../../db/types.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import type { Actor } from '../../shared/context.js';
import { AppError, notFound } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { BillingService } from '../billing/billing.service.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import type { FamilyPaymentsService } from '../familypayments/familypayments.service.js';
import { familyDue } from '../paylinks/paylinks.repository.js';
import { GATEWAY_USERNAME, type CheckoutRepository } from './checkout.repository.js';
import type { Gateway, GatewayEvent } from './gateway.adapters.js';

/** How long a checkout session stays open at the gateway (Stripe allows 30 minutes to 24 hours). */
export const CHECKOUT_HOURS = 24;

export interface Checkout {
  id: string;
  url: string;
  provider: GatewayProvider;
  amount: number;
  currency: string;
  expiresAt: string;
}

/** Who opens a checkout: a staff user, a guardian in the portal, or whoever holds a pay link. */
export interface Opener {
  via: 'staff' | 'portal' | 'pay_link';
  userId: string | null;
  /** The hosted page's language; by default the family's first guardian's. */
  language?: Language;
  /** Where the gateway sends the payer back: `<return>?checkout=<id>&result=paid|cancelled`. */
  returnUrl: string;
}

export type RecordOutcome =
  | { recorded: 'payment' | 'family_payment' | 'failed_attempt' | 'unapplied'; checkoutId: string }
  | { recorded: 'duplicate' | 'ignored'; checkoutId: string | null };

interface Target {
  schoolId: string;
  schoolName: string;
  currency: string;
  invoiceId: string | null;
  familyId: string | null;
  description: string;
  language: Language;
  email: string | null;
}

function withParams(url: string, params: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params)) {
    parsed.searchParams.set(key, value);
  }
  return parsed.toString();
}

/**
 * Online payment (SPEC §8): opening checkouts at the configured gateway, and recording
 * what its verified webhooks say — a payment exactly once per gateway payment id, in the
 * payment's own transaction (gateway_payments, migration 0025), whatever the gateway's
 * retries or their order; a decline as a failed transaction (the live feed and monitoring
 * show it). Money a payer sent for an invoice that was meanwhile settled another way is
 * never dropped: it becomes a family payment (the family's credit), or, for an invoice of
 * no family, is kept as `unapplied` for the bursar to refund.
 */
export function createCheckoutService(deps: {
  db: Db;
  gateway: Gateway | undefined;
  billing: BillingService;
  familyPayments: FamilyPaymentsService;
  repository: CheckoutRepository;
  clock?: Clock;
  log: FastifyBaseLogger;
}) {
  const { db, billing, familyPayments, repository, log } = deps;
  const clock = deps.clock ?? systemClock;
  const transactions = createPaymentsRepository();
  let gatewayUser: Promise<string> | undefined;

  function gatewayOrThrow(): Gateway {
    if (deps.gateway === undefined) {
      throw new AppError('SERVICE_UNAVAILABLE', 'online payment is not configured on this server (GATEWAY=off, or Stripe keys missing)');
    }
    return deps.gateway;
  }

  async function open(target: Target, amount: number, opener: Opener): Promise<Checkout> {
    const gateway = gatewayOrThrow();
    const id = randomUUID();
    const expiresAt = new Date(Math.floor((clock.now() + CHECKOUT_HOURS * 3_600_000) / 1000) * 1000);
    let session;
    try {
      session = await gateway.openSession({
        checkoutId: id,
        schoolId: target.schoolId,
        schoolName: target.schoolName,
        target: target.invoiceId !== null ? { invoiceId: target.invoiceId } : { familyId: target.familyId ?? '' },
        amount,
        currency: target.currency,
        description: target.description,
        language: opener.language ?? target.language,
        successUrl: withParams(opener.returnUrl, { checkout: id, result: 'paid' }),
        cancelUrl: withParams(opener.returnUrl, { checkout: id, result: 'cancelled' }),
        customerEmail: target.email,
        expiresAt,
      });
    } catch (error) {
      log.error({ err: error, provider: gateway.provider }, 'gateway: opening a checkout session failed');
      throw new AppError('SERVICE_UNAVAILABLE', `the payment gateway (${gateway.provider}) did not open a checkout; try again in a moment`);
    }
    await repository.insertSession(db, {
      school_id: target.schoolId,
      id,
      provider: gateway.provider,
      provider_session_id: session.sessionId,
      invoice_id: target.invoiceId,
      family_id: target.invoiceId === null ? target.familyId : null,
      amount,
      currency: target.currency,
      via: opener.via,
      created_by: opener.userId,
      url: session.url,
      expires_at: expiresAt,
    });
    return { id, url: session.url, provider: gateway.provider, amount, currency: target.currency, expiresAt: expiresAt.toISOString() };
  }

  const contactOf = (schoolId: string, familyId: string | null): Promise<{ language: Language; email: string | null }> =>
    familyId === null ? Promise.resolve({ language: 'es', email: null }) : repository.familyContact(db, schoolId, familyId);

  return {
    /**
     * A checkout for what an invoice still owes (less its early-payment discount while on
     * offer). The caller has checked the opener may see the invoice.
     */
    async invoiceCheckout(invoiceId: string, schoolId: string, opener: Opener): Promise<Checkout> {
      const invoice = await billing.getInvoice({ schoolIds: [schoolId], pii: 'clear' }, invoiceId);
      if (invoice.status === 'CANCELLED') {
        throw new AppError('INVOICE_CANCELLED', 'the invoice is cancelled: there is nothing to pay');
      }
      const amount = invoice.earlyPayment?.available ? invoice.earlyPayment.amountDue : invoice.pendingAmount;
      if (amount <= 0) {
        throw new AppError('BUSINESS_RULE_VIOLATION', 'the invoice is paid in full: there is nothing to pay', { errors: [{ field: 'id', in: 'params', message: 'paid in full' }] });
      }
      const head = await repository.invoiceHead(db, schoolId, invoiceId);
      if (head === undefined) {
        throw notFound('invoice');
      }
      const facts = await contactOf(schoolId, head.familyId);
      const description = (opener.language ?? facts.language) === 'en' ? `Invoice ${invoice.number}` : `Factura ${invoice.number}`;
      return open({ schoolId, schoolName: head.schoolName, currency: head.currency, invoiceId, familyId: head.familyId, description, language: facts.language, email: facts.email }, amount, opener);
    },

    /** A checkout for any amount up to what the family owes (all of it by default). */
    async familyCheckout(familyId: string, requested: number | undefined, opener: Opener): Promise<Checkout> {
      const due = await familyDue(db, familyId);
      if (due === undefined) {
        throw notFound('family');
      }
      if (due.owed <= 0) {
        throw new AppError('BUSINESS_RULE_VIOLATION', 'the family owes nothing: there is nothing to pay', { errors: [{ field: 'amount', in: 'body', message: 'nothing is due' }] });
      }
      if (requested !== undefined && requested > due.owed) {
        throw new AppError('OVERPAYMENT', `amount ${requested} exceeds the ${due.owed} the family owes`, {
          errors: [{ field: 'amount', in: 'body', message: `must not exceed what the family owes, ${due.owed}` }],
        });
      }
      const facts = await contactOf(due.schoolId, familyId);
      const description = (opener.language ?? facts.language) === 'en' ? `Family ${due.reference}` : `Familia ${due.reference}`;
      return open(
        { schoolId: due.schoolId, schoolName: due.schoolName, currency: due.currency, invoiceId: null, familyId, description, language: facts.language, email: facts.email },
        requested ?? due.owed,
        opener,
      );
    },

    /**
     * Records a verified event. The gateway payment id is the key: a success is recorded
     * once, in its payment's transaction; a failure once, and never after a success of the
     * same payment (events out of order). An event for no checkout of ours, or whose amount
     * or currency is not the checkout's, is refused (400, nothing recorded).
     */
    async record(provider: GatewayProvider, event: GatewayEvent): Promise<RecordOutcome> {
      if (event.kind === 'ignored') {
        return { recorded: 'ignored', checkoutId: null };
      }
      const checkout = await repository.findSession(db, event.schoolId, provider, event.sessionId);
      if (checkout === undefined) {
        throw new AppError('BAD_REQUEST', 'the webhook names a checkout session this server did not open', { errors: [{ field: 'data.sessionId', in: 'body', message: 'unknown checkout session' }] });
      }
      if (checkout.currency !== event.currency || (event.kind === 'succeeded' && event.amount !== checkout.amount)) {
        throw new AppError('BAD_REQUEST', `the webhook's amount ${event.amount} ${event.currency} is not the checkout's ${checkout.amount} ${checkout.currency}`, {
          errors: [{ field: 'data.amount', in: 'body', message: 'does not match the checkout' }],
        });
      }
      const key = { schoolId: checkout.school_id, provider, paymentId: event.paymentId };
      const principal: Principal = {
        userId: await (gatewayUser ??= repository.ensureGatewayUser(db).catch((error: unknown) => {
          gatewayUser = undefined;
          throw error;
        })),
        username: GATEWAY_USERNAME,
        role: 'super_admin',
        sessionId: event.eventId,
        schoolIds: [checkout.school_id],
        pii: 'clear',
        guardian: null,
      };
      const actor: Actor = { principal, requestId: event.eventId, userAgent: `gateway:${provider}` };
      const row = (trx: Tx, outcome: 'succeeded' | 'failed' | 'unapplied', made: { payment_id?: string; family_payment_id?: string; transaction_id?: string }) =>
        repository.insertGatewayPayment(trx, {
          school_id: checkout.school_id,
          provider,
          gateway_payment_id: event.paymentId,
          outcome,
          checkout_id: checkout.id,
          event_id: event.eventId,
          amount: event.amount,
          payment_id: made.payment_id ?? null,
          family_payment_id: made.family_payment_id ?? null,
          transaction_id: made.transaction_id ?? null,
        });
      const setStatus = (trx: Db | Tx, status: 'paid' | 'failed' | 'unapplied', onlyFrom: readonly ('open' | 'failed')[]) => repository.setSessionStatus(trx, checkout, status, onlyFrom);

      if (event.kind === 'failed') {
        return db.transaction().execute(async (trx): Promise<RecordOutcome> => {
          const seen = await repository.outcomesOf(trx, key, { forUpdate: true });
          if (seen.length > 0) {
            return { recorded: 'duplicate', checkoutId: checkout.id };
          }
          const transactionId = await transactions.insertTransaction(trx, {
            schoolId: checkout.school_id,
            invoiceId: checkout.invoice_id,
            amount: event.amount,
            method: 'card',
            status: 'failed',
            failureCode: (event.failureCode ?? 'payment_failed').slice(0, 64),
            failureMessage: (event.failureMessage ?? 'The payment failed').slice(0, 500),
            gateway: provider,
          });
          await row(trx, 'failed', { transaction_id: transactionId });
          await setStatus(trx, 'failed', ['open']);
          await recordAudit(trx, actor, {
            action: 'payment.fail',
            entityType: 'transaction',
            entityId: transactionId,
            schoolId: checkout.school_id,
            changes: { checkoutId: checkout.id, invoiceId: checkout.invoice_id, familyId: checkout.family_id, amount: event.amount, gateway: provider, gatewayPaymentId: event.paymentId, failureCode: event.failureCode ?? null },
          });
          return { recorded: 'failed_attempt', checkoutId: checkout.id };
        });
      }

      if ((await repository.outcomesOf(db, key)).some((outcome) => outcome !== 'failed')) {
        return { recorded: 'duplicate', checkoutId: checkout.id };
      }
      // The same Idempotency-Key for every way this money can be recorded: whichever commits
      // first wins, a retry replays it, and a concurrent delivery waits for it (migration 0019).
      const request = { idempotencyKey: `gateway:${provider}:${event.paymentId}`.slice(0, 255), path: `/gateway/webhooks/${provider}` };
      const paidAt = new Date(Math.min(event.occurredAt.getTime(), clock.now())).toISOString();
      const reference = event.paymentId.slice(0, 120);
      const duplicate = (error: unknown) => error instanceof AppError && error.code === 'IDEMPOTENCY_KEY_REUSED';
      if (checkout.invoice_id !== null) {
        try {
          const result = await billing.recordPayment(actor, { invoiceId: checkout.invoice_id, amount: event.amount, method: 'card', reference, paidAt }, request, undefined, async (trx, paymentId) => {
            await row(trx, 'succeeded', { payment_id: paymentId });
            await setStatus(trx, 'paid', ['open', 'failed']);
          });
          return { recorded: result.replayed ? 'duplicate' : 'payment', checkoutId: checkout.id };
        } catch (error) {
          if (duplicate(error)) {
            return { recorded: 'duplicate', checkoutId: checkout.id };
          }
          if (!(error instanceof AppError) || !['OVERPAYMENT', 'INVOICE_CANCELLED'].includes(error.code)) {
            throw error;
          }
          log.warn({ checkoutId: checkout.id, code: error.code }, 'gateway: the invoice no longer takes this payment; recording it for the family');
        }
      }
      const familyId = checkout.family_id ?? (checkout.invoice_id === null ? null : ((await repository.invoiceHead(db, checkout.school_id, checkout.invoice_id))?.familyId ?? null));
      if (familyId === null) {
        // No family to credit: keep the money on record for the bursar (refund it at the gateway).
        await db.transaction().execute(async (trx) => {
          await row(trx, 'unapplied', {});
          await setStatus(trx, 'unapplied', ['open', 'failed']);
          await recordAudit(trx, actor, {
            action: 'payment.unapplied',
            entityType: 'checkout',
            entityId: checkout.id,
            schoolId: checkout.school_id,
            changes: { invoiceId: checkout.invoice_id, amount: event.amount, gateway: provider, gatewayPaymentId: event.paymentId },
          });
        });
        log.error({ checkoutId: checkout.id, gatewayPaymentId: event.paymentId }, 'gateway: a payment could not be applied (invoice settled, no family); refund it at the gateway');
        return { recorded: 'unapplied', checkoutId: checkout.id };
      }
      try {
        const result = await familyPayments.recordFamilyPayment(actor, familyId, { amount: event.amount, method: 'card', reference, paidAt }, request, undefined, async (trx, familyPaymentId) => {
          await row(trx, 'succeeded', { family_payment_id: familyPaymentId });
          await setStatus(trx, 'paid', ['open', 'failed']);
        });
        return { recorded: result.replayed ? 'duplicate' : 'family_payment', checkoutId: checkout.id };
      } catch (error) {
        if (duplicate(error)) {
          return { recorded: 'duplicate', checkoutId: checkout.id };
        }
        throw error;
      }
    },
  };
}

export type CheckoutService = ReturnType<typeof createCheckoutService>;
