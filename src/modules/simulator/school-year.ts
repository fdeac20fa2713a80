import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { VirtualClock } from '../sync/clock.js';
import { wallClockParts, todayIn } from '../../shared/time.js';
import { addDays, daysBetween, formatDay, formatMoney, type Language } from '../assistant/format.js';
import { createCollectionsRepository } from '../collections/collections.repository.js';
import { runCollectionDay } from '../collections/collections.service.js';
import type { ReminderSettings } from '../collections/reminders.js';
import type { PortalClient } from './portal-client.js';
import { createSimulator, type SimulatorStats } from './simulator.js';

/**
 * `bursar simulate --through YYYY-MM-DD [--school …]` (SPEC §8 "School year on a clock"):
 * the demo schools' days, one after the other on a virtual clock — the daily jobs (bill
 * runs, late fees, reminders) and the families (on time, after a reminder, late, partly,
 * never; some paying online through a pay link and the gateway's hosted page) — then a
 * summary of what happened.
 *
 * It is the demo's engine (simulator.ts, the families; runCollectionDay, the daily run the
 * collections job runs; the bill run engine), driven by a clock moved by hand instead of
 * by the system clock, and it acts only where the demo simulator acts: live demo schools,
 * their demo students' bills no person touched. The clock moves STEP_HOURS at a time;
 * each school's day is run once its local clock passes the collections hour, like the
 * daily job, and after every move the families do whatever their plans have due.
 *
 * The run starts now, or after the last day a collections run (this command's or the
 * daily job's) already covered in the chosen schools, so a second run continues where
 * the first stopped and no day is run twice.
 */

/** How far the clock moves at a time: eight looks a day at the families' plans. */
const STEP_HOURS = 3;
/** The longest run accepted: a school year and a summer (and a bound on the work asked for). */
export const MAX_SIMULATED_DAYS = 400;

/** A request `bursar simulate` cannot carry out (exit status 2, the message for the operator). */
export class SimulateError extends Error {}

export interface SimulatedSchool {
  id: string;
  name: string;
  currency: string;
  timezone: string;
}

export interface MoneyTotals {
  /** Fees billed: the charge lines of the bills issued. */
  billed: number;
  /** Discounts on those bills (sibling, scholarship, early payment), as a positive amount. */
  discounts: number;
  lateFees: number;
  /** Received from families: payments and family payments (credit included). */
  collected: number;
  refunds: number;
  /** Credit notes and write-offs. */
  adjustments: number;
}

export interface Outstanding {
  notDue: number;
  days1to30: number;
  days31to60: number;
  days61to90: number;
  over90: number;
}

export interface SchoolYearSummary {
  from: string;
  through: string;
  days: number;
  schools: SimulatedSchool[];
  /** Per currency: what the run added (billed, collected, …) and what is open at its end, by age. */
  money: Record<string, MoneyTotals & { outstanding: Outstanding }>;
  /** Reminders of the simulated days, per channel and status (outbox, queued, sent, failed, bounced). */
  reminders: Record<string, Record<string, number>>;
  /** What the families did (the simulator's counts). */
  families: Pick<SimulatorStats, 'payments' | 'familyPayments' | 'online' | 'afterReminder' | 'failures' | 'refunds' | 'invoices' | 'rejected' | 'errors'>;
  /** Collections runs of the simulated days: late fees posted and reminders written. */
  collections: { runs: number; lateFeesPosted: number; remindersSent: number };
}

export interface SchoolYearOptions {
  db: Db;
  /** Moved by the run; every service the families go through must read it (buildApp's `clock`). */
  clock: VirtualClock;
  through: string;
  /** Demo school ids (or exact names); every live demo school when absent. */
  schools?: readonly string[];
  /** How families pay online: the app's HTTP routes on loopback. Without it, no one pays online. */
  portal?: PortalClient;
  reminders: ReminderSettings;
  /** The local hour from which a school's day is run (COLLECTIONS_FROM_HOUR). */
  fromHour: number;
  log: FastifyBaseLogger;
  seed?: number;
  /** Called after each simulated day (UTC), for progress. */
  onDay?: (day: string, stats: SimulatorStats) => void;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** YYYY-MM-DD that is a real calendar date. */
export function isCalendarDate(value: string): boolean {
  const at = new Date(`${value}T00:00:00Z`);
  return DATE.test(value) && !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10) === value;
}

/**
 * The schools a run acts on: the live demo schools (is_demo, simulated traffic on,
 * active), or those named by `wanted` (ids or exact names) — each of which must be one,
 * else SimulateError: a real school's data is never simulated (SPEC §10).
 */
export async function demoSchoolsFor(db: Db, wanted: readonly string[] | undefined): Promise<SimulatedSchool[]> {
  const rows = await db
    .selectFrom('schools')
    .select(['id', 'name', 'currency', 'timezone', 'is_demo as isDemo', 'simulator_enabled as simulatorEnabled', 'is_active as isActive', 'deleted_at as deletedAt'])
    .$if(wanted === undefined, (qb) => qb.where('is_demo', '=', true))
    .orderBy('name')
    .orderBy('id')
    .execute();
  const live = (row: (typeof rows)[number]) => row.isDemo && row.simulatorEnabled && row.isActive && row.deletedAt === null;
  const pick = ({ id, name, currency, timezone }: (typeof rows)[number]): SimulatedSchool => ({ id, name, currency, timezone });
  if (wanted === undefined) {
    const schools = rows.filter(live).map(pick);
    if (schools.length === 0) {
      throw new SimulateError('there is no demo school with simulated traffic on to simulate (the demo data is seeded by `npm start` on a new database, SEED_DEMO=on)');
    }
    return schools;
  }
  const chosen = new Map<string, SimulatedSchool>();
  for (const name of wanted) {
    const matches = rows.filter((row) => row.id === name || row.name === name);
    if (matches.length === 0) {
      throw new SimulateError(`--school ${name}: no such school (give a demo school's id or exact name)`);
    }
    if (matches.length > 1) {
      throw new SimulateError(`--school ${name}: several schools have this name; give its id (${matches.map((row) => row.id).join(', ')})`);
    }
    const school = matches[0] as (typeof rows)[number];
    if (!live(school)) {
      const why = !school.isDemo ? 'is not a demo school' : !school.simulatorEnabled ? 'has its simulated traffic switched off' : 'is not active';
      throw new SimulateError(`--school ${name}: ${school.name} ${why}; simulate acts only on demo schools with simulated traffic on`);
    }
    chosen.set(school.id, pick(school));
  }
  return [...chosen.values()];
}

/**
 * The first day to simulate: the earliest of the schools' local today, or for a school
 * already run beyond it (an earlier simulation), the day after its last run.
 */
export async function firstDay(db: Db, schools: readonly SimulatedSchool[], now: number): Promise<string> {
  const lastRun = await lastRunDays(db, schools);
  const starts = schools.map((school) => {
    const today = todayIn(school.timezone, new Date(now));
    const last = lastRun.get(school.id);
    return last !== undefined && addDays(last, 1) > today ? addDays(last, 1) : today;
  });
  return starts.reduce((a, b) => (b < a ? b : a));
}

/** The last collections day of each school (its days up to it are not run again). */
async function lastRunDays(db: Db, schools: readonly SimulatedSchool[]): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('collection_runs')
    .select(['school_id as schoolId', (eb) => eb.fn.max('day').as('day')])
    .where('school_id', 'in', schools.map((school) => school.id))
    .groupBy('school_id')
    .execute();
  return new Map(
    rows.map((row) => {
      const day = row.day as unknown;
      return [row.schoolId, day instanceof Date ? day.toISOString().slice(0, 10) : String(day)];
    }),
  );
}

/** The money totals of the schools per currency, as the ledger wrote them (compared before and after the run). */
async function moneyTotals(db: Db, schools: readonly SimulatedSchool[]): Promise<Map<string, MoneyTotals>> {
  const ids = schools.map((school) => school.id);
  const { rows } = await sql<{ currency: string } & { [K in keyof MoneyTotals]: string }>`
    select s.currency,
           coalesce(sum(l.charged), 0) as billed, coalesce(sum(l.discounted), 0) as discounts, coalesce(sum(l.late), 0) as "lateFees",
           coalesce(sum(p.collected), 0) as collected, coalesce(sum(r.refunded), 0) as refunds, coalesce(sum(a.adjusted), 0) as adjustments
      from schools s
      left join lateral (
        select sum(amount) filter (where kind = 'charge') as charged, -sum(amount) filter (where kind = 'discount') as discounted,
               sum(amount) filter (where kind = 'late_fee') as late
          from invoice_lines where school_id = s.id) l on true
      left join lateral (
        select (select coalesce(sum(amount), 0) from payments where school_id = s.id and family_payment_id is null)
             + (select coalesce(sum(amount), 0) from family_payments where school_id = s.id) as collected) p on true
      left join lateral (select sum(amount) as refunded from refunds where school_id = s.id) r on true
      left join lateral (select sum(amount) as adjusted from invoice_adjustments where school_id = s.id) a on true
     where s.id = any(${ids}::uuid[])
     group by s.currency`.execute(db);
  return new Map(
    rows.map((row) => [
      row.currency,
      {
        billed: Number(row.billed),
        discounts: Number(row.discounts),
        lateFees: Number(row.lateFees),
        collected: Number(row.collected),
        refunds: Number(row.refunds),
        adjustments: Number(row.adjustments),
      },
    ]),
  );
}

/** What is open at the end of `through` per currency, by how many days past its due date (each school's own dates). */
async function outstandingByAge(db: Db, schools: readonly SimulatedSchool[], through: string): Promise<Map<string, Outstanding>> {
  const { rows } = await sql<{ currency: string; notDue: string; days1to30: string; days31to60: string; days61to90: string; over90: string }>`
    select s.currency,
           coalesce(sum(i.amount - i.paid_amount) filter (where i.due_date >= ${through}::date), 0) as "notDue",
           coalesce(sum(i.amount - i.paid_amount) filter (where ${through}::date - i.due_date between 1 and 30), 0) as "days1to30",
           coalesce(sum(i.amount - i.paid_amount) filter (where ${through}::date - i.due_date between 31 and 60), 0) as "days31to60",
           coalesce(sum(i.amount - i.paid_amount) filter (where ${through}::date - i.due_date between 61 and 90), 0) as "days61to90",
           coalesce(sum(i.amount - i.paid_amount) filter (where ${through}::date - i.due_date > 90), 0) as "over90"
      from schools s
      join invoices i on i.school_id = s.id and i.cancelled_at is null and i.paid_amount < i.amount
     where s.id = any(${schools.map((school) => school.id)}::uuid[])
     group by s.currency`.execute(db);
  return new Map(
    rows.map((row) => [
      row.currency,
      { notDue: Number(row.notDue), days1to30: Number(row.days1to30), days31to60: Number(row.days31to60), days61to90: Number(row.days61to90), over90: Number(row.over90) },
    ]),
  );
}

async function remindersOf(db: Db, schools: readonly SimulatedSchool[], from: string, through: string): Promise<Record<string, Record<string, number>>> {
  const rows = await db
    .selectFrom('messages')
    .select(['channel', 'status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('school_id', 'in', schools.map((school) => school.id))
    .where('kind', '=', 'reminder')
    .where('day', '>=', from)
    .where('day', '<=', through)
    .groupBy(['channel', 'status'])
    .orderBy('channel')
    .orderBy('status')
    .execute();
  const byChannel: Record<string, Record<string, number>> = {};
  for (const row of rows) {
    (byChannel[row.channel] ??= {})[row.status] = Number(row.n);
  }
  return byChannel;
}

const ZERO: MoneyTotals = { billed: 0, discounts: 0, lateFees: 0, collected: 0, refunds: 0, adjustments: 0 };

/** Runs the chosen demo schools day by day through `through` and answers what happened. */
export async function simulateSchoolYear(options: SchoolYearOptions): Promise<SchoolYearSummary> {
  const { db, clock, log } = options;
  if (!isCalendarDate(options.through)) {
    throw new SimulateError(`--through ${options.through}: not a date (YYYY-MM-DD)`);
  }
  const schools = await demoSchoolsFor(db, options.schools);
  const from = await firstDay(db, schools, clock.now());
  const through = options.through;
  if (through < from) {
    throw new SimulateError(`--through ${through}: these schools are already simulated (or run) through ${addDays(from, -1)}; give a later date`);
  }
  const days = daysBetween(from, through) + 1;
  if (days > MAX_SIMULATED_DAYS) {
    throw new SimulateError(`--through ${through}: ${days} days from ${from}; at most ${MAX_SIMULATED_DAYS} days at a time`);
  }
  const start = Math.max(clock.now(), Date.parse(`${from}T00:00:00Z`));
  clock.advance(start - clock.now());

  const before = await moneyTotals(db, schools);
  const repo = createCollectionsRepository();
  const lastRun = await lastRunDays(db, schools);
  const collections = { runs: 0, lateFeesPosted: 0, remindersSent: 0 };
  const simulator = createSimulator({
    db,
    ratePerSecond: 1,
    log,
    clock,
    only: schools.map((school) => school.id),
    ...(options.portal === undefined ? {} : { portal: options.portal }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });

  let reported = new Date(clock.now()).toISOString().slice(0, 10);
  for (;;) {
    const now = clock.now();
    const open = schools.filter((school) => todayIn(school.timezone, new Date(now)) <= through);
    if (open.length === 0) {
      break;
    }
    // The daily run of each school whose local clock has passed the collections hour, once per day (as the daily job).
    for (const school of open) {
      const day = todayIn(school.timezone, new Date(now));
      if (wallClockParts(now, school.timezone).hour >= options.fromHour && (lastRun.get(school.id) ?? '') < day) {
        const result = await runCollectionDay(db, repo, options.reminders, null, school.id, day);
        lastRun.set(school.id, day);
        collections.runs++;
        collections.lateFeesPosted += result.lateFeesPosted;
        collections.remindersSent += result.remindersSent;
      }
    }
    await simulator.catchUp();
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== reported) {
      if (reported <= through) {
        options.onDay?.(reported, simulator.stats());
      }
      reported = day;
    }
    clock.advance(STEP_HOURS * 3_600_000);
  }
  if (reported <= through) {
    options.onDay?.(reported, simulator.stats());
  }

  const after = await moneyTotals(db, schools);
  const outstanding = await outstandingByAge(db, schools, through);
  const money: SchoolYearSummary['money'] = {};
  for (const currency of [...new Set(schools.map((school) => school.currency))].sort()) {
    const a = after.get(currency) ?? ZERO;
    const b = before.get(currency) ?? ZERO;
    money[currency] = {
      billed: a.billed - b.billed,
      discounts: a.discounts - b.discounts,
      lateFees: a.lateFees - b.lateFees,
      collected: a.collected - b.collected,
      refunds: a.refunds - b.refunds,
      adjustments: a.adjustments - b.adjustments,
      outstanding: outstanding.get(currency) ?? { notDue: 0, days1to30: 0, days31to60: 0, days61to90: 0, over90: 0 },
    };
  }
  const stats = simulator.stats();
  return {
    from,
    through,
    days,
    schools,
    money,
    reminders: await remindersOf(db, schools, from, through),
    families: {
      payments: stats.payments,
      familyPayments: stats.familyPayments,
      online: stats.online,
      afterReminder: stats.afterReminder,
      failures: stats.failures,
      refunds: stats.refunds,
      invoices: stats.invoices,
      rejected: stats.rejected,
      errors: stats.errors,
    },
    collections,
  };
}

/** "1 refund", "2 refunds". */
const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

const TEXT = {
  en: {
    heading: (from: string, through: string, days: number, n: number) => `Simulated ${from} to ${through} (${days} days) in ${n} demo school${n === 1 ? '' : 's'}:`,
    billed: 'Billed (fees)',
    discounts: 'Discounts',
    lateFees: 'Late fees',
    collected: 'Collected',
    refunds: 'Refunded',
    adjustments: 'Credit notes and write-offs',
    outstanding: 'Outstanding at the end',
    notDue: '  not yet due',
    days1to30: '  1–30 days overdue',
    days31to60: '  31–60 days overdue',
    days61to90: '  61–90 days overdue',
    over90: '  over 90 days overdue',
    reminders: 'Reminders',
    none: 'none',
    channels: { email: 'e-mail', sms: 'SMS', whatsapp: 'WhatsApp' } as Record<string, string>,
    statuses: { outbox: 'in the outbox', queued: 'queued', sent: 'sent', failed: 'failed', bounced: 'bounced' } as Record<string, string>,
    families: (f: SchoolYearSummary['families']) =>
      `Families: ${n(f.payments, 'payment', 'payments')} (${n(f.familyPayments, 'family payment', 'family payments')} for several children, ${f.online} online through a pay link, ` +
      `${f.afterReminder} of them answering a reminder), ${n(f.failures, 'declined attempt', 'declined attempts')}, ${n(f.refunds, 'refund', 'refunds')}; ` +
      `${n(f.invoices, 'bill', 'bills')} issued by bill runs`,
    trouble: (f: SchoolYearSummary['families']) => `${f.rejected} refused by a business rule, ${f.errors} errors (see the log)`,
  },
  es: {
    heading: (from: string, through: string, days: number, n: number) => `Simulado del ${from} al ${through} (${days} días) en ${n} escuela${n === 1 ? '' : 's'} demo:`,
    billed: 'Facturado (cuotas)',
    discounts: 'Descuentos',
    lateFees: 'Recargos',
    collected: 'Cobrado',
    refunds: 'Reembolsado',
    adjustments: 'Notas de crédito y castigos',
    outstanding: 'Pendiente al final',
    notDue: '  aún no vence',
    days1to30: '  1–30 días vencido',
    days31to60: '  31–60 días vencido',
    days61to90: '  61–90 días vencido',
    over90: '  más de 90 días vencido',
    reminders: 'Recordatorios',
    none: 'ninguno',
    channels: { email: 'correo', sms: 'SMS', whatsapp: 'WhatsApp' } as Record<string, string>,
    statuses: { outbox: 'en la bandeja de salida', queued: 'en cola', sent: 'enviados', failed: 'fallidos', bounced: 'rebotados' } as Record<string, string>,
    families: (f: SchoolYearSummary['families']) =>
      `Familias: ${n(f.payments, 'pago', 'pagos')} (${n(f.familyPayments, 'pago familiar', 'pagos familiares')} de varios hijos, ${f.online} en línea con un enlace de pago, ` +
      `${f.afterReminder} de ellos tras un recordatorio), ${n(f.failures, 'intento rechazado', 'intentos rechazados')}, ${n(f.refunds, 'reembolso', 'reembolsos')}; ` +
      `${n(f.invoices, 'factura emitida', 'facturas emitidas')} por corridas de facturación`,
    trouble: (f: SchoolYearSummary['families']) => `${f.rejected} rechazados por una regla de negocio, ${f.errors} errores (ver el registro)`,
  },
} as const;

/** The summary as a person reads it: one column per currency, money in currency units in the reader's language. */
export function formatSummary(summary: SchoolYearSummary, language: Language): string {
  const t = TEXT[language];
  const currencies = Object.keys(summary.money);
  const rows: [string, (totals: SchoolYearSummary['money'][string]) => number][] = [
    [t.billed, (m) => m.billed],
    [t.discounts, (m) => 0 - m.discounts],
    [t.lateFees, (m) => m.lateFees],
    [t.collected, (m) => m.collected],
    [t.refunds, (m) => 0 - m.refunds],
    [t.adjustments, (m) => 0 - m.adjustments],
    [t.outstanding, (m) => m.outstanding.notDue + m.outstanding.days1to30 + m.outstanding.days31to60 + m.outstanding.days61to90 + m.outstanding.over90],
    [t.notDue, (m) => m.outstanding.notDue],
    [t.days1to30, (m) => m.outstanding.days1to30],
    [t.days31to60, (m) => m.outstanding.days31to60],
    [t.days61to90, (m) => m.outstanding.days61to90],
    [t.over90, (m) => m.outstanding.over90],
  ];
  const cells = rows.map(([label, value]) => [label, ...currencies.map((currency) => formatMoney(value(summary.money[currency] as SchoolYearSummary['money'][string]), currency, language))]);
  const header = ['', ...currencies];
  const widths = header.map((_, i) => Math.max(...[header, ...cells].map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('   ').trimEnd();
  const reminders = Object.entries(summary.reminders).map(
    ([channel, statuses]) =>
      `${t.channels[channel] ?? channel} ${Object.values(statuses).reduce((a, b) => a + b, 0)} (${Object.entries(statuses)
        .map(([status, n]) => `${n} ${t.statuses[status] ?? status}`)
        .join(', ')})`,
  );
  return [
    t.heading(formatDay(summary.from, language, 'short'), formatDay(summary.through, language, 'short'), summary.days, summary.schools.length),
    ...summary.schools.map((school) => `  ${school.name} (${school.currency})`),
    '',
    line(header),
    ...cells.map(line),
    '',
    `${t.reminders}: ${reminders.length === 0 ? t.none : reminders.join('; ')}`,
    t.families(summary.families),
    ...(summary.families.rejected + summary.families.errors > 0 ? [t.trouble(summary.families)] : []),
  ].join('\n');
}
