import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';
import type { PaymentMethod, SchoolLanguage } from '../../db/types.js';
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
import { systemClock, type Clock } from '../../shared/clock.js';
import type { Actor } from '../../shared/context.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import { todayIn } from '../../shared/time.js';
import { ensureSystemUser } from '../auth/users.repository.js';
import { createBillingService, type BillingService, type SimulatedWrite } from '../billing/billing.service.js';
import { createInvoicesRepository, isOutstanding } from '../billing/invoices.repository.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createStudentsRepository } from '../billing/students.repository.js';
import { createBillRunEngine, type UnitFilter } from '../billruns/billruns.engine.js';
import { createBillRunsRepository } from '../billruns/billruns.repository.js';
import { createFamilyPaymentsRepository, ofFamily } from '../familypayments/familypayments.repository.js';
import { createFamilyPaymentsService } from '../familypayments/familypayments.service.js';
import { applyCredit } from '../ledger/ledger.js';
import { payLinkKey, signPayToken } from '../paylinks/paylinks.tokens.js';
import {
  addMonths,
  DAY_MS,
  declinedAttempts,
  dueDateOf,
  ISSUE_LEAD_DAYS,
  LOW_LEAD_DAYS,
  monthOf,
  monthsIssuedBy,
  paymentPlan,
  plannedPaidBy,
  planKey,
  type DeclinedAttempt,
  unitOf,
} from './demo-plan.js';
import { payTokenIn, type PortalClient } from './portal-client.js';

/**
 * The demo traffic simulator (SPEC §3 "Live analytics", §8 "school year on a clock",
 * SIMULATOR=on): the demo's families paying their tuition, now and then after a declined
 * attempt, the odd refund, and next month's bills when they are due to be issued — so
 * that every demo school always has bills of every kind (open, partial, overdue, paid)
 * and the live feed shows what a school's gateway would.
 *
 * It acts ONLY on demo data (SPEC §10): demo schools (is_demo, from the demo seed) with
 * their simulated traffic on (simulator_enabled, PATCH /schools/:id), on invoices no
 * person ever created or changed (touched_by_person_at is null), and bills only the demo
 * students' families (demo_students). Every query below filters on that, and the billing service
 * checks it again under the row lock before each write (SimulatedWrite), so a school or
 * an invoice a person created or changed is never touched, even by a write already
 * chosen when a person got there first.
 *
 * Families pay by the shared plans of demo-plan.ts (on time, late, partial, never), read
 * against one injectable clock: business time (what is due, paidAt, the months billed)
 * comes from `clock`, while the event timers run in real time. Failed attempts follow
 * the same plans (declinedAttempts): a few payments are preceded by a declined one, and
 * struggling families now and then try and fail on an overdue bill — so traffic follows
 * the families, not the tick rate, and the share of failed attempts stays what a real
 * gateway sees (about one in seven), whatever SIMULATOR_RATE is. Attempts are recorded
 * when their moment has come, like payments, reconciled against the failed attempts the
 * bill already has, and at most MAX_DECLINES_PER_SCHOOL_DAY per school and school day. It goes through the
 * billing service exactly like an HTTP request would (scope, row locks, overpayment and
 * cancellation checks, idempotency keys, audit), acting as the system user `simulator`,
 * so everything downstream — rollups, the failures feed, live events, analytics — sees
 * ordinary traffic. Monthly bills come from a bill run per demo school through the new
 * month (issueBills), serialised by the school's bill-run lock, so several processes
 * running the simulator (every API and worker process of a deployment) never issue a
 * month twice. (demo_bills, migration 0012, is no longer written: bill runs key every
 * instalment by its billing key.)
 *
 * Given a portal client (the app serving the pay links, with the bundled gateway), some
 * families pay online as a parent does — a pay link, the checkout, the gateway's hosted
 * page, its signed webhook — over HTTP to the server (portal-client.ts); late families
 * answer some reminders through the reminder's own pay link (answerReminders); a bill
 * paid in full after its due date is paid with its late fee (settleLateFee). The same
 * engine runs `bursar simulate` (school-year.ts): there catchUp() does what is due after
 * each move of a virtual clock, here the timers do it in real time.
 */
export const SIMULATOR_USERNAME = 'simulator';

/** `payment`: the families act by their plans (declined attempts, then payments); `reminders`: families answer the reminders they got. */
export type SimulatedEvent = 'payment' | 'refund' | 'billing' | 'reminders';

/**
 * Per tick: the families' payments and declined attempts whose moment has come (idle
 * otherwise: most ticks), now and then a refund of a payment this process made. There
 * is no free-running failure: failed attempts come with the families' plans.
 */
const EVENT_WEIGHTS = new Weighted<Exclude<SimulatedEvent, 'billing' | 'reminders'>>([
  ['payment', 97],
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
/**
 * Open invoices considered per school and look (the query's LIMIT): a demo school has a
 * few dozen in the window (twelve students, four or five open bills each at most); this
 * leaves room for a demo school of a couple of hundred students.
 */
const CANDIDATES = 1_000;
/** At most this many bills acted on (attempts, then payment) per payment event. */
const PAYMENTS_PER_EVENT = 3;
/**
 * The due dates something can be due for, around today: families pay up to 29 days
 * after the due date and 33 before it, and a family that never pays tries for the last
 * time 75 days after it. Older or later open bills (never paying families' older debts)
 * are outside the range scan of the outstanding index.
 */
const WINDOW_PAST_DAYS = 80;
const WINDOW_AHEAD_DAYS = 35;
/**
 * At most this many declined attempts per demo school and school day (the school's
 * time zone, the injectable clock). The plans give about one a week per school; this
 * only bounds a catch-up after a long pause (attempts beyond it wait for the next day).
 */
export const MAX_DECLINES_PER_SCHOOL_DAY = 6;
/** Share of payments after a declined attempt made with the declined method (another card, say). */
const SAME_METHOD_AFTER_DECLINE = 0.5;
/** Bounds of the per-bill memos (bills seen settled, the method last declined). */
const MEMO_LIMIT = 10_000;
/** Share of this process's payments later refunded (refunds are rare). */
const REFUND_SHARE = 0.03;
const RECENT_PAYMENTS = 50;
/** Clock time between two looks at whether a demo school's next month is due to be billed. */
const BILLING_EVERY_MS = 60_000;
const SCHOOLS_REFRESH_MS = 60_000;
/**
 * A school where no plan has a payment or an attempt due is not asked again before the
 * next one falls due, nor for this long of clock time (new bills, a refund, a plan
 * beyond the query's LIMIT): idle payment events then cost no query.
 */
const QUIET_MAX_MS = 10 * 60_000;
const SUMMARY_MS = 60_000;
/** catchUp's payment events at most (each pays up to PAYMENTS_PER_EVENT bills of one school). */
const CATCH_UP_STEPS = 10_000;
/** A pay link a family scans (as on an invoice's QR code) is valid this long. */
const PRINTED_LINK_DAYS = 7;
/** Clock time between two looks at the reminders families may be answering. */
const REMINDERS_EVERY_MS = 60_000;
/**
 * Share of a family's full payments of one bill made online, through the pay link of the
 * bill's QR code and the gateway's hosted page (when a portal client is given), rather
 * than at the school's counter or bank (recorded by the billing service directly).
 */
const PORTAL_SHARE = 0.3;
/**
 * A family that pays late answers a reminder of a due or overdue bill, in one case in
 * two, by paying it through the reminder's own pay link within REMINDER_ANSWER_HOURS of
 * the reminder's day (before its plan would have paid it); one in eight of those first
 * types a card the gateway declines.
 */
const ANSWER_SHARE = 0.5;
const ANSWER_DECLINED_FIRST = 0.125;
const REMINDER_ANSWER_HOURS = 40;
/** Days of reminders looked at for answers, and how many per look. */
const ANSWER_WINDOW_DAYS = 3;
const ANSWERS_PER_LOOK = 200;

export interface SimulatorStats {
  /** Payments recorded: each on one bill, or a family's (familyPayments counts those). */
  payments: number;
  /** Of the payments, family payments (several children's bills, one receipt). */
  familyPayments: number;
  /** Declined attempts recorded (transactions with status failed). */
  failures: number;
  refunds: number;
  /** Monthly bills issued. */
  invoices: number;
  /** Of the payments, made online through a pay link and the gateway's hosted page (the webhook recorded them). */
  online: number;
  /** Of the online payments, those answering a reminder (through the reminder's pay link). */
  afterReminder: number;
  /** Refused by a business rule (the invoice changed meanwhile, a person touched it, the month was billed by another process, ...). */
  rejected: number;
  /** Nothing to act on (no payment or attempt due by any plan, no payment to refund). */
  idle: number;
  /** Dropped because MAX_IN_FLIGHT events were still running. */
  skipped: number;
  errors: number;
}

const emptyStats = (): SimulatorStats => ({
  payments: 0,
  familyPayments: 0,
  online: 0,
  afterReminder: 0,
  failures: 0,
  refunds: 0,
  invoices: 0,
  rejected: 0,
  idle: 0,
  skipped: 0,
  errors: 0,
});

/** Business-rule refusals the simulator expects now and then; anything else is an error. */
const EXPECTED = new Set(['OVERPAYMENT', 'INVOICE_CANCELLED', 'NOT_FOUND', 'REFUND_EXCEEDS_PAYMENT', 'BUSINESS_RULE_VIOLATION', 'FORBIDDEN', 'CONFLICT']);

/** A simulated write needs no extra check beyond the service's own (payments, refunds, failures). */
const SIMULATED: SimulatedWrite = {};

/** The system user the simulator acts as: inactive (it cannot log in), created once. */
export const ensureSimulatorUser = (db: Db): Promise<string> => ensureSystemUser(db, SIMULATOR_USERNAME);

export interface SimulatorOptions {
  db: Db;
  ratePerSecond: number;
  log: FastifyBaseLogger;
  /** Billing service to drive; by default one over the standard repositories. */
  billing?: BillingService;
  /** Business time: what is due, paidAt, which months are billed. The system clock by default. */
  clock?: Clock;
  /** PRNG seed (tests); by default the time and the process id. */
  seed?: number;
  /** Share of payments later refunded; REFUND_SHARE by default (tests raise it). */
  refundShare?: number;
  /**
   * How families pay online (pay links, the gateway's hosted page): without one, every
   * payment is recorded by the billing service as if at the school's counter, and nobody
   * answers a reminder before their plan says they pay.
   */
  portal?: PortalClient;
  /** Only these demo schools (`bursar simulate --school`); every live demo school by default. */
  only?: readonly string[];
}

interface DemoSchool {
  id: string;
  currency: string;
  timezone: string;
  /** The language its families read and its invoices are written in (the demo's US school is in English). */
  language: SchoolLanguage;
}

/** The school is a live demo school with its simulated traffic on (joined in every candidate query). */
const isLiveDemoSchool = sql<boolean>`(schools.is_demo and schools.simulator_enabled and schools.is_active and schools.deleted_at is null)`;

const addDays = (date: string, days: number): string => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/** The latest date a finished bill run of the school billed through ('' when none has). */
async function lastRunThrough(db: DbOrTx, schoolId: string): Promise<string> {
  const row = await db
    .selectFrom('bill_runs')
    .select((eb) => eb.fn.max('through').as('through'))
    .where('school_id', '=', schoolId)
    .where('status', '=', 'finished')
    .where('dry_run', '=', false)
    .executeTakeFirst();
  const through = row?.through as unknown;
  return through instanceof Date ? through.toISOString().slice(0, 10) : typeof through === 'string' ? through : '';
}

/**
 * Of a batch of billing units (a family, or a student without one), those the demo
 * simulator may bill: every (not deleted) student of the unit is a demo student
 * (demo_students). A person's student in a demo school — alone or in a demo family — keeps
 * the whole unit out of the simulator's runs.
 */
export const demoUnits: UnitFilter = async (db, schoolId, units) => {
  if (units.length === 0) {
    return [];
  }
  const { rows } = await sql<{ unit: string }>`
    select u.unit from unnest(${[...units]}::uuid[]) with ordinality as u(unit, ord)
     where not exists (
       select 1 from students s
        where s.school_id = ${schoolId} and coalesce(s.family_id, s.id) = u.unit and s.deleted_at is null
          and not exists (select 1 from demo_students d where d.school_id = s.school_id and d.student_id = s.id))
     order by u.ord`.execute(db);
  return rows.map((row) => row.unit);
};

/** A bill with something due by its family's plan. */
interface Due {
  id: string;
  dueDate: string;
  /** The family billed when it may pay this bill with its siblings' by one family payment (on time, no split payers); else null. */
  familyId: string | null;
  /** What the plan says is paid by now and is not (≤ 0: nothing to pay). */
  owed: number;
  pending: number;
  /** Declined attempts due and not yet recorded, oldest first. */
  attempts: DeclinedAttempt[];
  /** How many of the plan's attempts are due by now (settled once these are recorded). */
  upTo: number;
}

/** map.set, forgetting everything once the memo is MEMO_LIMIT long (it is only a shortcut). */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MEMO_LIMIT) {
    map.clear();
  }
  map.set(key, value);
}

export function createSimulator(options: SimulatorOptions) {
  const { db, ratePerSecond, log } = options;
  const clock = options.clock ?? systemClock;
  const billing =
    options.billing ??
    createBillingService({
      db,
      schools: createSchoolsRepository(),
      students: createStudentsRepository(),
      invoices: createInvoicesRepository(),
      payments: createPaymentsRepository(),
      clock,
    });
  const rng = new Rng(options.seed ?? Date.now() ^ process.pid);
  const totals = emptyStats();
  let minute = emptyStats();
  let principal: Principal | undefined;
  let schools: DemoSchool[] = [];
  let schoolsLoadedAt = -Infinity;
  let billedAt = -Infinity;
  let answeredAt = -Infinity;
  let answering$: Promise<void> | undefined;
  /** Per school: the due date its bills were last found billed through (saves the look at bill_runs). */
  const billedThrough = new Map<string, string>();
  const billRuns = createBillRunsRepository();
  const engine = createBillRunEngine(billRuns);
  const schoolsRepo = createSchoolsRepository();
  const invoicesRepo = createInvoicesRepository();
  const familyPayments = createFamilyPaymentsService({
    db,
    repository: createFamilyPaymentsRepository(),
    ledger: { applyCredit },
    clock,
  });
  let billing$: Promise<void> | undefined;
  const refundable: { id: string; amount: number; schoolId: string }[] = [];
  /** Per school: clock time before which no plan has a payment or an attempt due (see QUIET_MAX_MS). */
  const quietUntil = new Map<string, number>();
  /** When the demo was seeded: the plans' attempts before it are the seed's history, not the simulator's. */
  let seededAt: number | undefined;
  /** Per bill: how many of its plan's attempts were due when it was last found to have them all (saves the count query). */
  const settled = new Map<string, number>();
  /** Reminders answered (or tried) by this process: `<invoice>:<day>:answer`. */
  const answered = new Map<string, true>();
  /** Per bill: the method of its last declined attempt (the family may pay with it after all). */
  const declinedWith = new Map<string, PaymentMethod>();
  /** Per school: declined attempts recorded on its current school day (MAX_DECLINES_PER_SCHOOL_DAY). */
  const declinesToday = new Map<string, { day: string; n: number }>();
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

  async function ensurePrincipal(): Promise<void> {
    if (!principal) {
      const userId = await ensureSimulatorUser(db);
      principal = { userId, username: SIMULATOR_USERNAME, role: 'super_admin', sessionId: randomUUID(), schoolIds: 'all', pii: 'clear', guardian: null };
    }
    if (seededAt === undefined) {
      const marker = await db.selectFrom('app_meta').select('value').where('key', '=', 'demo_seeded_at').executeTakeFirst();
      const at = typeof marker?.value === 'string' ? Date.parse(marker.value) : Number.NaN;
      seededAt = Number.isFinite(at) ? at : -Infinity;
    }
  }

  /** The demo schools with simulated traffic on (schools_demo_idx), cached for a minute of clock time. */
  async function loadSchools(force = false): Promise<void> {
    const now = clock.now();
    if (!force && now - schoolsLoadedAt < (schools.length === 0 ? 5_000 : SCHOOLS_REFRESH_MS)) {
      return;
    }
    schoolsLoadedAt = now;
    schools = await db
      .selectFrom('schools')
      .select(['id', 'currency', 'timezone', 'language'])
      .where(isLiveDemoSchool)
      .$if(options.only !== undefined, (qb) => qb.where('id', 'in', [...(options.only ?? []), '00000000-0000-0000-0000-000000000000']))
      .orderBy('id')
      .execute();
  }

  function shuffled<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy;
  }

  /**
   * Open demo invoices of one school with a due date in [from, to], oldest due first: a
   * range scan of invoices_school_outstanding_idx (school_id, due_date, id), bounded by
   * the window and the LIMIT, the school row and the student's behaviour by primary key.
   */
  function openDemoInvoices(school: DemoSchool, from: string, to: string) {
    return db
      .selectFrom('invoices')
      .innerJoin('schools', 'schools.id', 'invoices.school_id')
      .innerJoin('demo_students', (join) => join.onRef('demo_students.school_id', '=', 'invoices.school_id').onRef('demo_students.student_id', '=', 'invoices.student_id'))
      .select([
        'invoices.id',
        'invoices.student_id as studentId',
        'invoices.amount',
        'invoices.paid_amount as paidAmount',
        'invoices.due_date as dueDate',
        'invoices.created_at as createdAt',
        'invoices.family_id as familyId',
        'invoices.payer_guardian_id as payerGuardianId',
        'demo_students.behaviour',
      ])
      .where('invoices.school_id', '=', school.id)
      // Late-fee invoices are paid with the bill they are for (settleLateFee), not by a plan of their own.
      .where('invoices.kind', '=', 'regular')
      .where(isOutstanding)
      .where('invoices.touched_by_person_at', 'is', null)
      .where('invoices.due_date', '>=', from)
      .where('invoices.due_date', '<=', to)
      .where(isLiveDemoSchool)
      .limit(CANDIDATES);
  }

  /** Declined attempts the school may still record on its school day of `now`. */
  function declineRoom(school: DemoSchool, now: number): number {
    const today = declinesToday.get(school.id);
    return today === undefined || today.day !== todayIn(school.timezone, new Date(now)) ? MAX_DECLINES_PER_SCHOOL_DAY : MAX_DECLINES_PER_SCHOOL_DAY - today.n;
  }

  function countDecline(school: DemoSchool, now: number): void {
    const day = todayIn(school.timezone, new Date(now));
    const today = declinesToday.get(school.id);
    declinesToday.set(school.id, { day, n: today?.day === day ? today.n + 1 : 1 });
  }

  /**
   * Bills of one school where the family's plan says something is due by now: more paid
   * than is (owed), or declined attempts not yet recorded (attempts, oldest first). The
   * attempts of a bill are its plan's (declinedAttempts) from the demo's seeding on (the
   * seed wrote the history before it); those already recorded are the bill's failed
   * transactions since then — counted only for bills where a new one has come due since
   * they were last found complete, in one range scan of transactions_school_created_idx.
   * When nothing is due, remembers when the next instalment or attempt of the bills seen
   * falls due.
   */
  async function familiesDue(school: DemoSchool, now: number): Promise<Due[]> {
    if ((quietUntil.get(school.id) ?? -Infinity) > now) {
      return [];
    }
    const seeded = seededAt ?? -Infinity;
    const today = todayIn(school.timezone, new Date(now));
    const rows = await openDemoInvoices(school, addDays(today, -WINDOW_PAST_DAYS), addDays(today, WINDOW_AHEAD_DAYS))
      .orderBy('invoices.due_date')
      .orderBy('invoices.id')
      .execute();
    const canDecline = declineRoom(school, now) > 0;
    const due: Due[] = [];
    const toCheck: { due: Due; attempts: DeclinedAttempt[]; since: number; upTo: number; createdAt: number }[] = [];
    let next = now + QUIET_MAX_MS;
    for (const row of rows) {
      const key = planKey(row.studentId, row.dueDate);
      const plan = paymentPlan(row.behaviour, key, row.dueDate, row.amount);
      const owed = Math.min(plannedPaidBy(plan, now), row.amount) - row.paidAmount;
      const item: Due = {
        id: row.id,
        dueDate: row.dueDate,
        familyId: row.behaviour === 'on_time' && row.payerGuardianId === null ? row.familyId : null,
        owed,
        pending: row.amount - row.paidAmount,
        attempts: [],
        upTo: 0,
      };
      for (const step of plan) {
        if (step.at > now && step.paidUpTo > row.paidAmount) {
          next = Math.min(next, step.at);
        }
      }
      const attempts = declinedAttempts(row.behaviour, key, row.dueDate, row.amount);
      const since = attempts.filter((attempt) => attempt.at < seeded).length;
      const upTo = attempts.filter((attempt) => attempt.at <= now).length;
      for (const attempt of attempts.slice(upTo)) {
        next = Math.min(next, attempt.at);
      }
      if (canDecline && upTo > since && settled.get(row.id) !== upTo) {
        toCheck.push({ due: item, attempts, since, upTo, createdAt: row.createdAt.getTime() });
      }
      if (owed > 0) {
        due.push(item);
      }
    }
    if (toCheck.length > 0) {
      // The seed's attempts are dated up to its `now`; none of a bill's predates the bill.
      const from = Math.max(seeded, Math.min(...toCheck.map((check) => check.createdAt)));
      const counts = await db
        .selectFrom('transactions')
        .select(['transactions.invoice_id as invoiceId', (eb) => eb.fn.countAll<number>().as('n')])
        .where('transactions.school_id', '=', school.id)
        .where('transactions.created_at', '>', new Date(Number.isFinite(from) ? from : 0))
        .where('transactions.status', '=', 'failed')
        .where(
          'transactions.invoice_id',
          'in',
          toCheck.map((check) => check.due.id),
        )
        .groupBy('transactions.invoice_id')
        .execute();
      const recorded = new Map(counts.map((row) => [row.invoiceId, Number(row.n)]));
      for (const check of toCheck) {
        const pending = check.attempts.slice(check.since + (recorded.get(check.due.id) ?? 0), check.upTo);
        if (pending.length === 0) {
          remember(settled, check.due.id, check.upTo);
          continue;
        }
        check.due.attempts = pending;
        check.due.upTo = check.upTo;
        if (check.due.owed <= 0) {
          due.push(check.due);
        }
      }
      const order = new Map(rows.map((row, index) => [row.id, index]));
      due.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    }
    if (due.length === 0) {
      quietUntil.set(school.id, next);
    } else {
      quietUntil.delete(school.id);
    }
    return due;
  }

  function gatewayFor(currency: string, method: PaymentMethod): string {
    if (method === 'cash') {
      return 'internal';
    }
    const gateways = GATEWAYS[currency] ?? ['stripe'];
    return rng.chance(0.75) ? (gateways[0] ?? 'stripe') : rng.pick(gateways);
  }

  /**
   * The families act by their plans, in one school picked at random among those with
   * something due: the oldest bills first, at most PAYMENTS_PER_EVENT of them, each with
   * its declined attempts first and then its payment (in real time one thing is due at a
   * time; after a pause, or on a coarse test clock, the backlog clears within a few events
   * instead of one bill per event).
   */
  async function pay(): Promise<void> {
    const now = clock.now();
    for (const school of shuffled(schools)) {
      const due = await familiesDue(school, now);
      if (due.length === 0) {
        continue;
      }
      if (due.length <= PAYMENTS_PER_EVENT) {
        quietUntil.delete(school.id); // ask again next time: these were the last ones due
      }
      const covered = new Set<string>();
      for (const invoice of due.slice(0, PAYMENTS_PER_EVENT)) {
        if (covered.has(invoice.id)) {
          continue; // paid by its family's payment just now
        }
        try {
          await declineAll(school, invoice, now);
          if (invoice.owed > 0 && !(await payAsFamily(school, invoice, now, covered))) {
            await payOne(school, invoice, now);
          }
        } catch (error) {
          if (!(error instanceof AppError && EXPECTED.has(error.code))) {
            throw error;
          }
          count('rejected'); // a person paid or changed it since, say: the service refused
        }
      }
      return;
    }
    count('idle');
  }

  /** The bill's declined attempts now due, oldest first, while the school's day has room for them. */
  async function declineAll(school: DemoSchool, invoice: Due, now: number): Promise<void> {
    let recorded = 0;
    for (const attempt of invoice.attempts) {
      if (declineRoom(school, now) <= 0) {
        return; // the rest waits for the school's next day
      }
      await decline(school, invoice, attempt.amount);
      countDecline(school, now);
      recorded++;
    }
    if (recorded === invoice.attempts.length && invoice.attempts.length > 0) {
      remember(settled, invoice.id, invoice.upTo);
    }
  }

  /** One declined attempt at a gateway: mostly cards, a code of the method's catalog, a gateway of the currency's region. */
  async function decline(school: DemoSchool, invoice: Due, amount: number): Promise<void> {
    const method = FAILED_METHOD_WEIGHTS.pick(rng);
    const failures =
      method === 'direct_debit' ? DEBIT_FAILURES : method === 'bank_transfer' ? TRANSFER_FAILURES : method === 'cash_voucher' ? VOUCHER_FAILURES : CARD_FAILURES;
    const [failureCode, failureMessage] = failures.pick(rng);
    await billing.recordFailedAttempt(
      actor(),
      {
        invoiceId: invoice.id,
        amount: Math.max(1, Math.min(amount, invoice.pending)),
        method,
        failureCode,
        failureMessage,
        gateway: gatewayFor(school.currency, method),
      },
      SIMULATED,
    );
    remember(declinedWith, invoice.id, method);
    count('failures');
  }

  /**
   * A family of several children that pays on time pays all its bills due by this one's
   * due date in one family payment (allocated oldest first by the family payments
   * service, one receipt) — when the first of them comes due. Only when every open bill
   * of the family is demo data (no person's invoice the allocation could reach, checked
   * again under the locks by record_family_payment); otherwise, and for a lone child, false: the bill is
   * paid on its own.
   */
  async function payAsFamily(school: DemoSchool, invoice: Due, now: number, covered: Set<string>): Promise<boolean> {
    const familyId = invoice.familyId;
    if (familyId === null) {
      return false;
    }
    const { rows } = await sql<{ children: number; touched: number; owed: number }>`
      select (select count(*) from students s where s.school_id = ${school.id} and s.family_id = ${familyId} and s.deleted_at is null)::int as children,
             count(*) filter (where invoices.touched_by_person_at is not null)::int as touched,
             coalesce(sum(invoices.amount - invoices.paid_amount) filter (where invoices.due_date <= ${invoice.dueDate}::date), 0)::bigint as owed
        from invoices
       where invoices.school_id = ${school.id} and ${ofFamily(school.id, familyId)}
         and invoices.cancelled_at is null and invoices.paid_amount < invoices.amount`.execute(db);
    const family = rows[0];
    const amount = Number(family?.owed ?? 0);
    if (family === undefined || family.children < 2 || family.touched > 0 || amount <= 0) {
      return false;
    }
    const result = await familyPayments.recordFamilyPayment(
      actor(),
      familyId,
      { amount, method: METHOD_WEIGHTS.pick(rng), paidAt: new Date(now).toISOString(), reference: `SIM-${now.toString(36).toUpperCase()}-${rng.int(1000, 9999)}` },
      { idempotencyKey: randomUUID(), path: `/api/v1/families/${familyId}/payments` },
      // Refused (FORBIDDEN) under the locks unless every invoice the payment reaches is demo data and the school still lets the simulator act.
      { demo: true },
    );
    for (const allocation of result.body.allocations) {
      covered.add(allocation.invoiceId);
    }
    count('payments');
    count('familyPayments');
    return true;
  }

  async function payOne(school: DemoSchool, invoice: Due, now: number): Promise<void> {
    const amount = Math.min(invoice.owed, invoice.pending);
    // Paying the whole bill, some families scan its QR code and pay online instead.
    if (options.portal?.available() === true && amount === invoice.pending && rng.chance(PORTAL_SHARE) && (await payOnline(invoice.id, now, { language: school.language }))) {
      await settleLateFee(school.id, invoice.id, now, school.language);
      return;
    }
    const declined = declinedWith.get(invoice.id);
    declinedWith.delete(invoice.id);
    // After a declined attempt, the same method (another card) or another one.
    const method = declined !== undefined && rng.chance(SAME_METHOD_AFTER_DECLINE) ? declined : METHOD_WEIGHTS.pick(rng);
    const paymentId = await recordSimPayment(invoice.id, amount, method, now);
    if (rng.chance(options.refundShare ?? REFUND_SHARE)) {
      refundable.push({ id: paymentId, amount, schoolId: school.id });
      if (refundable.length > RECENT_PAYMENTS) {
        refundable.shift();
      }
    }
    if (amount === invoice.pending) {
      await settleLateFee(school.id, invoice.id, now, undefined, method);
    }
  }

  /**
   * A family that pays a bill in full after its due date pays the late fee charged on it
   * too (its late-fee invoice, if one is open and no person touched it), the same way:
   * online, or with the bill's method. The fee stops growing once the bill is paid.
   */
  async function settleLateFee(schoolId: string, invoiceId: string, now: number, online: 'es' | 'en' | undefined, method: PaymentMethod = 'card'): Promise<void> {
    const fee = await db
      .selectFrom('invoices')
      .select(['invoices.id', sql<number>`invoices.amount - invoices.paid_amount`.as('open')])
      .where('invoices.school_id', '=', schoolId)
      .where('invoices.related_invoice_id', '=', invoiceId)
      .where('invoices.kind', '=', 'late_fee')
      .where(isOutstanding)
      .where('invoices.touched_by_person_at', 'is', null)
      .executeTakeFirst();
    if (fee === undefined) {
      return;
    }
    if (online !== undefined && options.portal?.available() === true && (await payOnline(fee.id, now, { language: online }))) {
      return;
    }
    await recordSimPayment(fee.id, Number(fee.open), method, now);
  }

  /** A payment recorded by staff at the desk, dated by the simulated clock; its id. */
  async function recordSimPayment(invoiceId: string, amount: number, method: PaymentMethod, now: number): Promise<string> {
    const result = await billing.recordPayment(
      actor(),
      { invoiceId, amount, method, paidAt: new Date(now).toISOString(), reference: `SIM-${now.toString(36).toUpperCase()}-${rng.int(1000, 9999)}` },
      { idempotencyKey: randomUUID(), path: '/api/v1/payments' },
      SIMULATED,
    );
    count('payments');
    return result.body.id;
  }

  /**
   * A family pays a bill online: its pay link (a reminder's, or one like its invoice's QR
   * code), the checkout, the gateway's hosted page, the webhook — all through the
   * server's HTTP routes (portal-client.ts). True when the gateway took the payment;
   * false when the family did not get that far (the payer then pays some other way).
   */
  async function payOnline(invoiceId: string, now: number, how: { token?: string; language: 'es' | 'en'; declinedFirst?: boolean }): Promise<boolean> {
    const portal = options.portal;
    if (portal === undefined) {
      return false;
    }
    const token = how.token ?? signPayToken(await payLinkKey(db), invoiceId, new Date(now + PRINTED_LINK_DAYS * DAY_MS));
    if (how.declinedFirst === true) {
      const declined = await portal.pay({ token, card: 'declined', language: how.language, now });
      if (declined.status === 'declined') {
        count('failures');
      }
    }
    const result = await portal.pay({ token, language: how.language, now });
    switch (result.status) {
      case 'paid':
        count('payments');
        count('online');
        return true;
      case 'declined':
        count('failures');
        return false;
      case 'refused':
        count('rejected');
        if (running) {
          log.debug({ invoiceId, reason: result.reason }, 'simulator: an online payment did not go through');
        }
        return false;
    }
  }

  /**
   * Families that pay late answer some reminders (ANSWER_SHARE) of a due or overdue bill
   * by paying it through the reminder's own pay link, within REMINDER_ANSWER_HOURS of the
   * reminder's day. The bills are the open demo bills of late-paying children due in the
   * last WINDOW_PAST_DAYS (a range scan of the outstanding index), each with its first
   * reminder of the last ANSWER_WINDOW_DAYS (the messages' invoice index); each reminder
   * is answered at most once by this process (answered).
   */
  async function answerReminders(): Promise<void> {
    if (options.portal?.available() !== true || schools.length === 0) {
      return;
    }
    const now = clock.now();
    const today = new Date(now).toISOString().slice(0, 10);
    const { rows } = await sql<{ schoolId: string; invoiceId: string; day: string; body: string; language: 'es' | 'en' }>`
      select invoices.school_id as "schoolId", invoices.id as "invoiceId", m.day, m.body, m.language
        from invoices
        join schools on schools.id = invoices.school_id
        join demo_students on demo_students.school_id = invoices.school_id and demo_students.student_id = invoices.student_id
        cross join lateral (
          select to_char(m.day, 'YYYY-MM-DD') as day, m.body, m.language
            from messages m
           where m.school_id = invoices.school_id and m.invoice_id = invoices.id and m.kind = 'reminder'
             and m.template in ('due', 'overdue', 'final_notice')
             and m.day between ${addDays(today, -ANSWER_WINDOW_DAYS)}::date and ${today}::date
           order by m.day, m.id
           limit 1) m
       where invoices.school_id = any(${schools.map((school) => school.id)}::uuid[])
         and invoices.kind = 'regular'
         and invoices.due_date between ${addDays(today, -WINDOW_PAST_DAYS)}::date and ${today}::date
         and ${isOutstanding} and invoices.touched_by_person_at is null
         and demo_students.behaviour = 'late' and ${isLiveDemoSchool}
       limit ${ANSWERS_PER_LOOK}`.execute(db);
    for (const row of rows) {
      const key = `${row.invoiceId}:${row.day}:answer`;
      if (answered.has(key) || unitOf(key) >= ANSWER_SHARE) {
        continue;
      }
      const at = Date.parse(`${row.day}T12:00:00Z`) + unitOf(`${key}:at`) * REMINDER_ANSWER_HOURS * 3_600_000;
      const token = payTokenIn(row.body);
      if (at > now || token === undefined) {
        continue;
      }
      remember(answered, key, true);
      try {
        if (await payOnline(row.invoiceId, now, { token, language: row.language, declinedFirst: unitOf(`${key}:declined`) < ANSWER_DECLINED_FIRST })) {
          count('afterReminder');
          await settleLateFee(row.schoolId, row.invoiceId, now, row.language);
        }
      } catch (error) {
        count('errors');
        log.warn({ err: error, invoiceId: row.invoiceId }, 'simulator: answering a reminder failed');
      }
    }
  }

  /** A refund of one of this process's recent payments (a few per hundred); the family's plan pays it again later. */
  async function refund(): Promise<void> {
    const payment = refundable.splice(rng.int(0, Math.max(0, refundable.length - 1)), 1)[0];
    if (!payment) {
      count('idle');
      return;
    }
    const amount = rng.chance(0.5) ? payment.amount : Math.max(1, Math.round(payment.amount * (0.1 + rng.next() * 0.4)));
    await billing.refundPayment(
      actor(),
      payment.id,
      { amount, reason: rng.pick(REFUND_REASONS) },
      { idempotencyKey: randomUUID(), path: `/api/v1/payments/${payment.id}/refunds` },
      SIMULATED,
    );
    quietUntil.delete(payment.schoolId); // the family pays it again by its plan
    count('refunds');
  }

  /**
   * Bills each demo school's next month once it is due to be issued (ISSUE_LEAD_DAYS
   * before the 10th; LOW_LEAD_DAYS when fewer than half of the school's demo students
   * have a bill not yet due, say because a person paid or changed them): one bill run of
   * the school through that month's due date, through the bill run engine (the fee
   * plan's instalments, discounts, payers, numbering, billing keys), acting as the
   * simulator. A month is billed once: the school's bill-run lock serialises several
   * simulator processes, and a run is started only when no finished run of the school
   * reaches that date yet (the engine's billing keys are the last line of defence). The
   * run bills only billing units all of whose students are demo students (demoUnits): a
   * student a person added to a demo school, or moved into a demo family, is never
   * billed by it; and its invoices are declared the demo's only after the school is
   * checked to be a live demo school under the lock.
   */
  async function issueBills(): Promise<void> {
    const now = clock.now();
    let issued = 0;
    for (const school of schools) {
      const today = todayIn(school.timezone, new Date(now));
      const counts = await db
        .selectFrom('demo_students')
        .innerJoin('students', (join) => join.onRef('students.school_id', '=', 'demo_students.school_id').onRef('students.id', '=', 'demo_students.student_id'))
        .select((eb) => [
          eb.fn.countAll<number>().as('students'),
          eb
            .selectFrom('invoices')
            .select((inner) => inner.fn.countAll<number>().as('n'))
            .where('invoices.school_id', '=', school.id)
            .where(isOutstanding)
            .where('invoices.touched_by_person_at', 'is', null)
            .where('invoices.due_date', '>=', today)
            .as('upcoming'),
        ])
        .where('demo_students.school_id', '=', school.id)
        .where('students.is_active', '=', true)
        .where('students.deleted_at', 'is', null)
        .executeTakeFirst();
      const students = Number(counts?.students ?? 0);
      if (students === 0) {
        continue;
      }
      const low = Number(counts?.upcoming ?? 0) < Math.ceil(students / 2);
      const firstOpen = dueDateOf(monthOf(today)) >= today ? monthOf(today) : addMonths(monthOf(today), 1);
      const month = monthsIssuedBy(now, firstOpen, low ? LOW_LEAD_DAYS : ISSUE_LEAD_DAYS).at(-1);
      if (month === undefined) {
        continue;
      }
      const through = dueDateOf(month);
      if ((billedThrough.get(school.id) ?? '') >= through) {
        continue;
      }
      if ((await lastRunThrough(db, school.id)) >= through) {
        billedThrough.set(school.id, through);
        continue;
      }
      try {
        const run = await db.transaction().execute(async (trx) => {
          await billRuns.lockSchool(trx, school.id);
          if ((await lastRunThrough(trx, school.id)) >= through) {
            return undefined; // another process billed it first
          }
          if (!(await schoolsRepo.simulatorMayAct(trx, { schoolId: school.id }))) {
            throw new AppError('FORBIDDEN', 'the demo simulator bills only demo schools with simulated traffic on');
          }
          await invoicesRepo.declareDemoWriter(trx);
          const ctx = await engine.context(trx, { id: school.id, currency: school.currency, language: school.language }, through);
          return engine.runInline(trx, ctx, { requestedBy: principal?.userId ?? null, actor: actor(), only: demoUnits });
        });
        billedThrough.set(school.id, through);
        if (run !== undefined) {
          issued += run.invoicesCreated;
          for (let i = 0; i < run.invoicesCreated; i++) {
            count('invoices');
          }
        }
      } catch (error) {
        if (!(error instanceof AppError && EXPECTED.has(error.code))) {
          throw error;
        }
        count('rejected'); // the school was switched off meanwhile
      }
      quietUntil.delete(school.id);
    }
    if (issued > 0 && running) {
      log.info(`simulator: issued ${issued} monthly bills`);
    }
  }

  /** One event of the given kind; business-rule refusals are counted, not thrown. */
  async function step(kind: SimulatedEvent): Promise<void> {
    try {
      await loadSchools();
      switch (kind) {
        case 'payment':
          await pay();
          break;
        case 'refund':
          await refund();
          break;
        case 'billing':
          await issueBills();
          break;
        case 'reminders':
          await answerReminders();
          break;
      }
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

  function launch(kind: SimulatedEvent): Promise<void> {
    const work: Promise<void> = step(kind).finally(() => inFlight.delete(work));
    inFlight.add(work);
    return work;
  }

  /** The monthly bills are looked at once a minute of clock time, one look at a time per process. */
  function billingDue(): boolean {
    if (billing$ !== undefined || clock.now() - billedAt < BILLING_EVERY_MS) {
      return false;
    }
    billedAt = clock.now();
    return true;
  }

  /** The reminders families answer are looked at once a minute of clock time (when they can pay online). */
  function answersDue(): boolean {
    if (options.portal === undefined || answering$ !== undefined || clock.now() - answeredAt < REMINDERS_EVERY_MS) {
      return false;
    }
    answeredAt = clock.now();
    return true;
  }

  function onTick(perTick: number): void {
    if (billingDue()) {
      billing$ = launch('billing').finally(() => (billing$ = undefined));
    }
    if (answersDue()) {
      answering$ = launch('reminders').finally(() => (answering$ = undefined));
    }
    credit += perTick;
    while (credit >= 1) {
      credit -= 1;
      if (inFlight.size >= MAX_IN_FLIGHT) {
        count('skipped');
        continue;
      }
      void launch(EVENT_WEIGHTS.pick(rng));
    }
  }

  return {
    async start(): Promise<void> {
      if (running) {
        return;
      }
      await ensurePrincipal();
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
          `simulator: last minute ${last.payments} payments (${last.familyPayments} by families), ${last.failures} failed attempts, ${last.refunds} refunds, ${last.invoices} bills issued, ` +
            `${last.rejected} rejected, ${last.idle} idle, ${last.skipped} skipped, ${last.errors} errors`,
        );
      }, SUMMARY_MS);
      log.info(
        `simulator: started across ${schools.length} demo schools (only demo schools with simulated traffic on), looking ${ratePerSecond} times a second ` +
          'for what the families’ plans say is due: payments, now and then after a declined attempt',
      );
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
      await ensurePrincipal();
      await loadSchools(true);
      await step(kind);
    },

    /**
     * What one timer tick does, run to completion: the monthly bills when a minute of
     * clock time has passed since the last look, then one event picked by weight. A test
     * moves its clock and calls this in a loop to run an hour, or months, in seconds.
     */
    async step(): Promise<void> {
      await ensurePrincipal();
      if (billingDue()) {
        await step('billing');
      }
      await step(EVENT_WEIGHTS.pick(rng));
    },

    /**
     * Everything due by the clock's now, run to completion (`bursar simulate` calls it
     * after each move of its virtual clock): the months due to be billed, the reminders
     * families answer, every payment and declined attempt the plans have due, then the
     * refunds of this process's payments picked for one. Bounded: the plans give a few
     * payments per family and month.
     */
    async catchUp(): Promise<void> {
      await ensurePrincipal();
      await loadSchools(true);
      await step('billing');
      await step('reminders');
      for (let i = 0, stalled = 0; i < CATCH_UP_STEPS && stalled < 3; i++) {
        const idle = totals.idle;
        const progress = totals.payments + totals.failures;
        await step('payment');
        if (totals.idle > idle) {
          break; // nothing more is due anywhere
        }
        // A bill the service keeps refusing (changed meanwhile) must not hold the day up.
        stalled = totals.payments + totals.failures > progress ? 0 : stalled + 1;
      }
      while (refundable.length > 0) {
        await step('refund');
      }
    },

    stats: (): SimulatorStats => ({ ...totals }),
    get running() {
      return running;
    },
  };
}

export type Simulator = ReturnType<typeof createSimulator>;
