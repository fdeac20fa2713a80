import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import {
  CARD_FAILURES,
  DEBIT_FAILURES,
  FAILED_METHOD_WEIGHTS,
  METHOD_WEIGHTS,
  REFUND_REASONS,
  TRANSFER_FAILURES,
  VOUCHER_FAILURES,
} from '../../db/seed/catalog.js';
import { Rng, Weighted } from '../../db/seed/random.js';
import type { Actor } from '../../shared/context.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import { hashPassword } from '../auth/passwords.js';
import { createBillingService, type BillingService } from '../billing/billing.service.js';
import { createInvoicesRepository } from '../billing/invoices.repository.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createStudentsRepository } from '../billing/students.repository.js';

/**
 * The demo traffic simulator (SPEC §3 "Live analytics", SIMULATOR=on): payments, failed
 * gateway attempts and the odd refund against open invoices of every school, at a steady
 * rate. It goes through the billing service exactly like an HTTP request would (scope,
 * row locks, overpayment and cancellation checks, idempotency keys, audit), acting as the
 * system user `simulator`, so everything downstream — rollups, the failures feed, live
 * events, analytics — sees ordinary traffic.
 */
export const SIMULATOR_USERNAME = 'simulator';

export type SimulatedEvent = 'payment' | 'failure' | 'refund';

/** Per event: mostly payments, a quarter failed attempts (mostly cards), a few refunds. */
const EVENT_WEIGHTS = new Weighted<SimulatedEvent>([
  ['payment', 72],
  ['failure', 25],
  ['refund', 3],
]);

/** The gateways of each currency's region (src/db/seed/catalog.ts REGIONS). */
const GATEWAYS: Readonly<Record<string, readonly string[]>> = {
  MXN: ['conekta', 'openpay', 'stripe'],
  COP: ['payu', 'stripe', 'adyen'],
  PEN: ['adyen', 'stripe'],
  USD: ['stripe', 'adyen'],
  EUR: ['adyen', 'stripe'],
};

/** At most this many events in flight; beyond it a tick's events are skipped, never queued. */
const MAX_IN_FLIGHT = 4;
/** Open invoices considered per school: the oldest due first, as families pay them. */
const CANDIDATES = 25;
const RECENT_PAYMENTS = 50;
const SCHOOLS_REFRESH_MS = 60_000;
const SUMMARY_MS = 60_000;

export interface SimulatorStats {
  payments: number;
  failures: number;
  refunds: number;
  /** Refused by a business rule (the invoice changed meanwhile, refund exceeded, ...). */
  rejected: number;
  /** Nothing to act on (no school with an open invoice, no payment to refund). */
  idle: number;
  /** Dropped because MAX_IN_FLIGHT events were still running. */
  skipped: number;
  errors: number;
}

const emptyStats = (): SimulatorStats => ({ payments: 0, failures: 0, refunds: 0, rejected: 0, idle: 0, skipped: 0, errors: 0 });

/** Business-rule refusals the simulator expects now and then; anything else is an error. */
const EXPECTED = new Set(['OVERPAYMENT', 'INVOICE_CANCELLED', 'NOT_FOUND', 'REFUND_EXCEEDS_PAYMENT', 'BUSINESS_RULE_VIOLATION']);

/** The system user the simulator acts as: inactive (it cannot log in), created once. */
export async function ensureSimulatorUser(db: Db): Promise<string> {
  const existing = await db.selectFrom('users').select('id').where('username', '=', SIMULATOR_USERNAME).executeTakeFirst();
  if (existing) {
    return existing.id;
  }
  // An unguessable password no one knows; the account is inactive anyway.
  const passwordHash = await hashPassword(randomBytes(32).toString('base64url'));
  await db
    .insertInto('users')
    .values({ username: SIMULATOR_USERNAME, password_hash: passwordHash, role: 'super_admin', is_active: false })
    .onConflict((oc) => oc.column('username').doNothing())
    .execute();
  const row = await db.selectFrom('users').select('id').where('username', '=', SIMULATOR_USERNAME).executeTakeFirstOrThrow();
  return row.id;
}

export interface SimulatorOptions {
  db: Db;
  ratePerSecond: number;
  log: FastifyBaseLogger;
  /** Billing service to drive; by default one over the standard repositories. */
  billing?: BillingService;
}

export function createSimulator(options: SimulatorOptions) {
  const { db, ratePerSecond, log } = options;
  const billing =
    options.billing ??
    createBillingService({
      db,
      schools: createSchoolsRepository(),
      students: createStudentsRepository(),
      invoices: createInvoicesRepository(),
      payments: createPaymentsRepository(),
    });
  const rng = new Rng(Date.now() ^ process.pid);
  const totals = emptyStats();
  let minute = emptyStats();
  let principal: Principal | undefined;
  let schools: { id: string; currency: string }[] = [];
  let schoolsLoadedAt = 0;
  const recentPayments: { id: string; amount: number }[] = [];
  const inFlight = new Set<Promise<void>>();
  let tick: NodeJS.Timeout | undefined;
  let summary: NodeJS.Timeout | undefined;
  let credit = 0;
  let running = false;

  const count = (key: keyof SimulatorStats) => {
    totals[key]++;
    minute[key]++;
  };

  const actor = (): Actor => {
    if (!principal) {
      throw new Error('simulator not started');
    }
    return { principal, requestId: `sim-${randomUUID()}`, userAgent: 'bursar-simulator' };
  };

  async function loadSchools(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - schoolsLoadedAt < (schools.length === 0 ? 5_000 : SCHOOLS_REFRESH_MS)) {
      return;
    }
    schoolsLoadedAt = now;
    schools = await db.selectFrom('schools').select(['id', 'currency']).where('deleted_at', 'is', null).where('is_active', '=', true).execute();
  }

  /** A random open invoice of a random school (the partial index of outstanding invoices). */
  async function pickOpenInvoice(): Promise<{ id: string; pending: number; currency: string } | undefined> {
    await loadSchools();
    for (let attempt = 0; attempt < 3 && schools.length > 0; attempt++) {
      const school = rng.pick(schools);
      const rows = await sql<{ id: string; pending: number }>`
        select i.id, i.amount - i.paid_amount as pending
          from invoices i
         where i.school_id = ${school.id} and i.cancelled_at is null and i.paid_amount < i.amount
         order by i.due_date, i.id
         limit ${CANDIDATES}`.execute(db);
      if (rows.rows.length > 0) {
        const invoice = rng.pick(rows.rows);
        return { ...invoice, currency: school.currency };
      }
    }
    return undefined;
  }

  function gatewayFor(currency: string, method: PaymentMethod): string {
    if (method === 'cash') {
      return 'internal';
    }
    const gateways = GATEWAYS[currency] ?? ['stripe'];
    return rng.chance(0.75) ? (gateways[0] ?? 'stripe') : rng.pick(gateways);
  }

  async function pay(): Promise<void> {
    const invoice = await pickOpenInvoice();
    if (!invoice) {
      count('idle');
      return;
    }
    // Most families pay the whole bill; some pay part of it. Never more than is owed.
    const amount = rng.chance(0.8) ? invoice.pending : Math.max(1, Math.min(invoice.pending, Math.round(invoice.pending * (0.3 + rng.next() * 0.4))));
    const method = METHOD_WEIGHTS.pick(rng);
    const result = await billing.recordPayment(
      actor(),
      { invoiceId: invoice.id, amount, method, reference: `SIM-${Date.now().toString(36).toUpperCase()}-${rng.int(1000, 9999)}` },
      { idempotencyKey: randomUUID(), path: '/api/v1/payments' },
    );
    recentPayments.push({ id: result.body.payment.id, amount });
    if (recentPayments.length > RECENT_PAYMENTS) {
      recentPayments.shift();
    }
    count('payments');
  }

  async function fail(): Promise<void> {
    const invoice = await pickOpenInvoice();
    if (!invoice) {
      count('idle');
      return;
    }
    const method = FAILED_METHOD_WEIGHTS.pick(rng);
    const failures =
      method === 'direct_debit' ? DEBIT_FAILURES : method === 'bank_transfer' ? TRANSFER_FAILURES : method === 'cash_voucher' ? VOUCHER_FAILURES : CARD_FAILURES;
    const [failureCode, failureMessage] = failures.pick(rng);
    await billing.recordFailedAttempt(actor(), {
      invoiceId: invoice.id,
      amount: invoice.pending,
      method,
      failureCode,
      failureMessage,
      gateway: gatewayFor(invoice.currency, method),
    });
    count('failures');
  }

  async function refund(): Promise<void> {
    if (recentPayments.length === 0) {
      count('idle');
      return;
    }
    const index = rng.int(0, recentPayments.length - 1);
    const [payment] = recentPayments.splice(index, 1);
    if (!payment) {
      return;
    }
    const amount = rng.chance(0.5) ? payment.amount : Math.max(1, Math.round(payment.amount * (0.1 + rng.next() * 0.4)));
    await billing.refundPayment(
      actor(),
      payment.id,
      { amount, reason: rng.pick(REFUND_REASONS) },
      { idempotencyKey: randomUUID(), path: `/api/v1/payments/${payment.id}/refunds` },
    );
    count('refunds');
  }

  /** One event of the given kind; business-rule refusals are counted, not thrown. */
  async function step(kind: SimulatedEvent): Promise<void> {
    try {
      await (kind === 'payment' ? pay() : kind === 'failure' ? fail() : refund());
    } catch (error) {
      if (error instanceof AppError && EXPECTED.has(error.code)) {
        count('rejected');
        return;
      }
      count('errors');
      if (running) {
        log.warn({ err: error }, `simulator: ${kind} failed`);
      }
    }
  }

  function launch(kind: SimulatedEvent): void {
    const work: Promise<void> = step(kind).finally(() => inFlight.delete(work));
    inFlight.add(work);
  }

  function onTick(perTick: number): void {
    credit += perTick;
    while (credit >= 1) {
      credit -= 1;
      if (inFlight.size >= MAX_IN_FLIGHT) {
        count('skipped');
        continue;
      }
      launch(EVENT_WEIGHTS.pick(rng));
    }
  }

  return {
    async start(): Promise<void> {
      if (running) {
        return;
      }
      const userId = await ensureSimulatorUser(db);
      principal = { userId, username: SIMULATOR_USERNAME, role: 'super_admin', sessionId: randomUUID(), schoolIds: 'all', pii: 'clear' };
      await loadSchools(true);
      running = true;
      // Fast rates tick every 50 ms with several events; slow ones once per event.
      const tickMs = Math.max(50, Math.min(1000 / ratePerSecond, 60_000));
      const perTick = (ratePerSecond * tickMs) / 1000;
      tick = setInterval(() => onTick(perTick), tickMs);
      summary = setInterval(() => {
        const last = minute;
        minute = emptyStats();
        log.info(
          { simulator: last },
          `simulator: last minute ${last.payments} payments, ${last.failures} failed attempts, ${last.refunds} refunds, ` +
            `${last.rejected} rejected, ${last.idle} idle, ${last.skipped} skipped, ${last.errors} errors`,
        );
      }, SUMMARY_MS);
      log.info(`simulator: started at ${ratePerSecond} events/s across ${schools.length} schools`);
    },

    /** Stops the timers and waits for the events in flight; nothing runs after it resolves. */
    async stop(): Promise<void> {
      running = false;
      clearInterval(tick);
      clearInterval(summary);
      tick = undefined;
      summary = undefined;
      await Promise.allSettled([...inFlight]);
    },

    /** Runs one event now (tests, and a manual nudge). */
    async runOnce(kind: SimulatedEvent): Promise<void> {
      if (!principal) {
        const userId = await ensureSimulatorUser(db);
        principal = { userId, username: SIMULATOR_USERNAME, role: 'super_admin', sessionId: randomUUID(), schoolIds: 'all', pii: 'clear' };
      }
      await loadSchools(true);
      await step(kind);
    },

    stats: (): SimulatorStats => ({ ...totals }),
    get running() {
      return running;
    },
  };
}

export type Simulator = ReturnType<typeof createSimulator>;
