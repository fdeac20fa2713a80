import type { FeeSchedule, PaymentMethod } from '../types.js';
import { totalsList } from '../../modules/billruns/assemble.js';
import { schoolPrefix } from '../../modules/families/reference.js';
import { dueDatesOf, MAX_MONTHLY_COUNT } from '../../modules/feeplans/schedule.js';
import {
  CARD_FAILURES,
  DEBIT_FAILURES,
  FAILED_METHOD_WEIGHTS,
  GRADES,
  ITEM_NAMES,
  REGIONS,
  SCHOOL_KINDS_EN,
  SCHOOL_KINDS_ES,
  SCHOOL_PATRONS,
  TRANSFER_FAILURES,
  VOUCHER_FAILURES,
  type Region,
} from './catalog.js';
import {
  buildBook,
  familyStarts,
  issuedAt,
  isoDate,
  K_INVOICE,
  K_PAYMENT,
  K_REFUND,
  localTime,
  type PaymentRec,
  type RefundRec,
  type SchoolBook,
} from './book.js';
import { hash32, hashString, Rng } from './random.js';
import { CopyWriter } from './copy-writer.js';
import { seededUuid } from './uuid.js';

/**
 * The pure part of the seeder: a small plan (schools, their sizes and families, the fee
 * plan's calendar) and streaming generators that turn it into COPY text, table by table,
 * in chunks.
 *
 * Every school has its own PRNG seeds and every row id is a hash of its position, so a
 * table's stream rebuilds the schools' books (book.ts: families → students → plan →
 * bill runs → invoices → payments → refunds) on its own, without any other table in
 * memory: the same seed, sizes and `now` give the same rows whichever table is generated
 * and in whatever order.
 *
 * The school year. Every school has one fee plan for an academic year that starts on the
 * 1st of the month `months − 1` months before `now`: tuition (monthly on the 10th,
 * max(10, months) instalments), an enrolment fee (once, with the first tuition) and an
 * optional school transport item (monthly, like tuition; about 30 % of students take
 * it). Every student is enrolled for the whole year. One bill run per month, on the 1st,
 * through the month's last day, billed what fell due that month — so the `months` months
 * up to and including now's month are billed, and the rest of the year is not yet.
 */
export interface SeedSizes {
  schools: number;
  students: number;
  months: number;
  transactions: number;
}

export interface GenerateOptions extends SeedSizes {
  seed: string;
  /** All dates are relative to this instant (default: the real now). */
  now?: Date;
  /** Index of the first generated school; > 0 when appending to a database that has schools. */
  schoolOffset?: number;
}

/** Tables loaded with COPY, in load order (parents first). */
export const COPY_TABLES = [
  'schools',
  'families',
  'guardians',
  'students',
  'fee_plans',
  'fee_plan_items',
  'discount_rules',
  'enrolments',
  'enrolment_payers',
  'awards',
  'bill_runs',
  'invoices',
  'invoice_lines',
  'payments',
  'receipts',
  'refunds',
  'transactions',
] as const;
export type CopyTable = (typeof COPY_TABLES)[number];
/** Every table the seed fills (the counters are set in SQL after the load). */
export const SEED_TABLES = COPY_TABLES;
export type SeedTable = CopyTable;

export const COLUMNS: Record<CopyTable, readonly string[]> = {
  schools: ['id', 'name', 'address', 'phone', 'email', 'currency', 'timezone', 'language', 'public_statements', 'is_active', 'created_at', 'updated_at'],
  families: ['school_id', 'id', 'name', 'reference', 'preferred_language', 'created_at', 'updated_at'],
  guardians: ['school_id', 'id', 'family_id', 'first_name', 'last_name', 'email', 'phone', 'relationship', 'preferred_language', 'is_primary', 'created_at', 'updated_at'],
  students: ['id', 'school_id', 'family_id', 'first_name', 'last_name', 'email', 'grade', 'enrolled_at', 'is_active', 'created_at', 'updated_at'],
  fee_plans: ['school_id', 'id', 'name', 'academic_year', 'year_start', 'year_end', 'created_at', 'updated_at'],
  fee_plan_items: ['school_id', 'fee_plan_id', 'code', 'description', 'amount', 'optional', 'schedule', 'position', 'created_at', 'updated_at'],
  discount_rules: ['school_id', 'id', 'name', 'kind', 'basis', 'value', 'item_codes', 'from_sibling_number', 'stacking', 'created_at', 'updated_at'],
  enrolments: ['school_id', 'id', 'student_id', 'fee_plan_id', 'from_date', 'optional_items', 'created_at', 'updated_at'],
  enrolment_payers: ['school_id', 'enrolment_id', 'guardian_id', 'share', 'position'],
  awards: ['school_id', 'id', 'student_id', 'rule_id', 'reason', 'created_at'],
  bill_runs: ['school_id', 'id', 'through', 'status', 'invoices_created', 'lines_created', 'skipped', 'done', 'total', 'totals', 'created_at', 'started_at', 'finished_at'],
  invoices: ['id', 'school_id', 'student_id', 'family_id', 'payer_guardian_id', 'bill_run_id', 'number', 'description', 'amount', 'paid_amount', 'due_date', 'created_at', 'updated_at', 'cancelled_at'],
  invoice_lines: ['school_id', 'id', 'invoice_id', 'kind', 'code', 'description', 'amount', 'enrolment_id', 'item_code', 'due_date', 'rule_id', 'award_id', 'billing_key', 'created_at'],
  payments: ['id', 'school_id', 'invoice_id', 'amount', 'method', 'reference', 'paid_at', 'created_at'],
  receipts: ['school_id', 'seq', 'number', 'payment_id', 'created_at'],
  refunds: ['id', 'school_id', 'payment_id', 'invoice_id', 'amount', 'reason', 'created_at'],
  transactions: ['id', 'school_id', 'invoice_id', 'payment_id', 'refund_id', 'amount', 'method', 'status', 'failure_code', 'failure_message', 'gateway', 'created_at'],
};

/** Tables whose rows come from the ledger part of the books (bill runs, invoices, payments). */
const LEDGER_TABLES = new Set<CopyTable>(['bill_runs', 'invoices', 'invoice_lines', 'payments', 'receipts', 'refunds', 'transactions']);

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// Id kinds and PRNG streams (mixed into hash32 with the seed and the school index).
const K_SCHOOL = 1;
const K_TX_SUCCEEDED = 6;
const K_TX_REFUNDED = 7;
const K_TX_FAILED = 8;
const R_PLAN = 101;
const R_SCHOOL = 102;
const R_FAILED = 104;

/** The fewest tuition instalments of the year (SPEC §7's school year: ten months). */
export const TUITION_INSTALMENTS = 10;

export interface MonthPlan {
  /** 'YYYY-MM-DD': the 10th, the month's tuition due date. */
  dueDate: string;
  /** Midnight UTC of the due date. */
  dueMs: number;
  /** Midnight UTC of the first day of the month. */
  firstMs: number;
  /** 'YYYY-MM-DD': the month's last day, the `through` of its bill run. */
  through: string;
}

/** A fee plan item of every seeded school (amounts per school). */
export interface PlanItem {
  code: 'tuition' | 'enrolment' | 'transport';
  position: number;
  optional: boolean;
  description: { es: string; en: string };
  schedule: FeeSchedule;
  /** dueDatesOf(schedule), for lookups. */
  dueDates: ReadonlySet<string>;
  amount(school: SchoolPlan): number;
}

export interface SchoolPlan {
  /** Global index (offset included): the key of all its randomness. */
  index: number;
  id: string;
  name: string;
  prefix: string;
  /** The prefix of its family references (families/reference.ts schoolPrefix). */
  refPrefix: string;
  lang: 'es' | 'en';
  region: Region;
  createdMs: number;
  /** Monthly tuition, enrolment fee and monthly transport, in cents. */
  tuition: number;
  enrolmentFee: number;
  transport: number;
  students: number;
  /** First student index of every family, then the student count (book.ts familyStarts). */
  familyStarts: Int32Array;
  failed: number;
}

export interface SeedPlan {
  key: number;
  nowMs: number;
  months: MonthPlan[];
  /** The fee plan's academic year. */
  year: { start: string; end: string; label: string };
  items: PlanItem[];
  schools: SchoolPlan[];
  /** Exact number of rows every table will get. */
  counts: Record<SeedTable, number>;
  /** Students per behaviour (on_time, late, partial, never). */
  behaviours: Record<'on_time' | 'late' | 'partial' | 'never', number>;
}

export function validateSizes(sizes: SeedSizes): void {
  const { schools, students, months, transactions } = sizes;
  for (const [name, value] of Object.entries({ schools, students, months, transactions })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a non-negative integer (got ${value})`);
    }
  }
  if (sizes.schools < 1) {
    throw new RangeError('schools must be at least 1');
  }
  if (sizes.students < sizes.schools) {
    throw new RangeError(`students (${sizes.students}) must be at least the number of schools (${sizes.schools})`);
  }
  if (sizes.months < 1 || sizes.months > MAX_MONTHLY_COUNT) {
    throw new RangeError(`months must be between 1 and ${MAX_MONTHLY_COUNT} (one school year of monthly instalments)`);
  }
}

const ymd = (year: number, month: number, day: number) => isoDate(Date.UTC(year, month, day));

/** The academic year, its months and the fee plan items (schedules through dueDatesOf). */
function calendar(nowMs: number, months: number): Pick<SeedPlan, 'months' | 'year' | 'items'> {
  const now = new Date(nowMs);
  const y0 = now.getUTCFullYear();
  const m0 = now.getUTCMonth() - (months - 1);
  const count = Math.max(TUITION_INSTALMENTS, months);
  const firstDue = ymd(y0, m0, 10);
  const monthly: FeeSchedule = { kind: 'monthly', firstDue, count };
  const tuitionDates = dueDatesOf(monthly);
  const yearMonths = Math.max(12, count);
  const start = ymd(y0, m0, 1);
  const end = ymd(y0, m0 + yearMonths, 0);
  const label = start.slice(0, 4) === end.slice(0, 4) ? start.slice(0, 4) : `${start.slice(0, 4)}-${end.slice(0, 4)}`;
  const plan: MonthPlan[] = [];
  for (let m = 0; m < months; m++) {
    const firstMs = Date.UTC(y0, m0 + m, 1);
    const dueDate = tuitionDates[m] as string;
    plan.push({ dueDate, dueMs: Date.parse(`${dueDate}T00:00:00Z`), firstMs, through: ymd(y0, m0 + m + 1, 0) });
  }
  const item = (code: PlanItem['code'], position: number, optional: boolean, schedule: FeeSchedule, amount: (school: SchoolPlan) => number): PlanItem => ({
    code,
    position,
    optional,
    description: { es: ITEM_NAMES.es[code], en: ITEM_NAMES.en[code] },
    schedule,
    dueDates: new Set(dueDatesOf(schedule)),
    amount,
  });
  return {
    months: plan,
    year: { start, end, label },
    items: [
      item('tuition', 0, false, monthly, (school) => school.tuition),
      item('enrolment', 1, false, { kind: 'once', dueDate: firstDue }, (school) => school.enrolmentFee),
      item('transport', 2, true, monthly, (school) => school.transport),
    ],
  };
}

/**
 * Decides the schools (region, fees, size, families) and counts every row by building
 * every school's book once without producing text, so the failed attempts can top the
 * transactions up to the requested total. Throws when that total is below the succeeded
 * + refunded ones.
 *
 * `count: false` (the loader) builds only the structure: the ledger tables' counts are
 * estimates and no school has failed attempts yet — the loader counts the rows as it
 * generates them and adds the failed attempts at the end (failedChunks), which spares
 * building every book twice.
 */
export function planSeed(options: GenerateOptions, mode: { count?: boolean } = {}): SeedPlan {
  validateSizes(options);
  const key = hashString(options.seed);
  const nowMs = (options.now ?? new Date()).getTime();
  const offset = options.schoolOffset ?? 0;
  const { months, year, items } = calendar(nowMs, options.months);

  // Uneven school sizes: log-normal weights, at least one student each.
  const planRng = new Rng(hash32(key, R_PLAN, offset));
  const weights = Array.from({ length: options.schools }, () => Math.exp(planRng.normal() * 0.6));
  const sizes = apportion(options.students - options.schools, weights).map((n) => n + 1);

  const schools: SchoolPlan[] = [];
  for (let i = 0; i < options.schools; i++) {
    const index = offset + i;
    const rng = new Rng(hash32(key, R_SCHOOL, index));
    const region = REGIONS.pick(rng);
    const kind = region.spanish ? rng.pick(SCHOOL_KINDS_ES) : rng.pick(SCHOOL_KINDS_EN);
    const patron = rng.pick(SCHOOL_PATRONS);
    const name = region.spanish ? `${kind} ${patron} ${region.city} ${index + 1}` : `${patron} ${kind} ${region.city} ${index + 1}`;
    const base = region.fee[0] + rng.next() * (region.fee[1] - region.fee[0]);
    const fee = (factor: number) => Math.max(1, Math.round((base * factor) / region.round)) * region.round * 100;
    const createdMs = (months[0]?.firstMs ?? nowMs) - rng.int(400, 3_000) * DAY + (9 - region.utcOffset) * HOUR + rng.int(0, 3_599) * 1000;
    const prefix = `S${(index + 1).toString(36).toUpperCase().padStart(3, '0')}`;
    const students = sizes[i] ?? 1;
    schools.push({
      index,
      id: seededUuid(key, K_SCHOOL, index, 0, createdMs),
      name,
      prefix,
      refPrefix: schoolPrefix(name),
      lang: region.spanish ? 'es' : 'en',
      region,
      createdMs,
      // One tuition for every grade: the middle grade's fee of the old per-grade scale.
      tuition: fee(1 + 0.045 * (GRADES.length / 2)),
      enrolmentFee: fee(0.8),
      transport: fee(0.15),
      students,
      familyStarts: familyStarts(key, index, students),
      failed: 0,
    });
  }

  const counts = Object.fromEntries(SEED_TABLES.map((t) => [t, 0])) as Record<SeedTable, number>;
  const plan: SeedPlan = { key, nowMs, months, year, items, schools, counts, behaviours: { on_time: 0, late: 0, partial: 0, never: 0 } };
  const behaviourNames = ['on_time', 'late', 'partial', 'never'] as const;
  const count = mode.count ?? true;
  for (const school of schools) {
    const book = buildBook(plan, school, count);
    counts.schools += 1;
    counts.families += book.families.length;
    counts.guardians += book.families.reduce((sum, f) => sum + f.guardians.length, 0);
    counts.students += book.students.length;
    counts.fee_plans += 1;
    counts.fee_plan_items += items.length;
    counts.discount_rules += book.rules.length;
    counts.enrolments += book.students.length;
    const payers = book.students.reduce((sum, s) => sum + (book.families[s.family]?.split === null ? 0 : 2), 0);
    counts.enrolment_payers += payers;
    counts.awards += book.students.filter((s) => s.awardId !== null).length;
    counts.bill_runs += months.length;
    if (count) {
      counts.invoices += book.invoices.length;
      counts.invoice_lines += book.invoices.reduce((sum, i) => sum + i.draft.lines.length, 0);
      counts.payments += book.payments.length;
      counts.refunds += book.refunds.length;
    } else {
      // Estimates (the loader counts the real rows): an invoice per student, payer and month.
      const invoices = (book.students.length + payers / 2) * months.length;
      counts.invoices += invoices;
      counts.invoice_lines += Math.round(invoices * 1.8);
      counts.payments += Math.round(invoices * 0.9);
      counts.refunds += Math.round(invoices * 0.01);
    }
    for (const student of book.students) {
      plan.behaviours[behaviourNames[student.behaviour] ?? 'never']++;
    }
  }
  counts.receipts = counts.payments;
  counts.transactions = options.transactions;
  if (count) {
    setFailedQuotas(plan, options.transactions, counts.payments + counts.refunds);
  }
  return plan;
}

/**
 * Tops the transactions up to `transactions` with failed attempts, apportioned over the
 * schools by their students; throws when the payments and refunds alone exceed it.
 */
export function setFailedQuotas(plan: SeedPlan, transactions: number, succeededAndRefunded: number): void {
  const failed = transactions - succeededAndRefunded;
  if (failed < 0) {
    throw new RangeError(
      `transactions (${transactions}) must be at least ${succeededAndRefunded} for this data set ` +
        `(one per payment and per refund); the rest are failed attempts`,
    );
  }
  const quotas = apportion(failed, plan.schools.map((s) => s.students));
  plan.schools.forEach((school, i) => {
    school.failed = quotas[i] ?? 0;
  });
}

/** Splits `total` into integers proportional to `weights` (largest remainder). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (sum > 0 ? (total * w) / sum : total / weights.length));
  const parts = exact.map(Math.floor);
  let rest = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; rest > 0; k = (k + 1) % order.length, rest--) {
    const i = order[k]?.[1] ?? 0;
    parts[i] = (parts[i] ?? 0) + 1;
  }
  return parts;
}

// ---------------------------------------------------------------------------------
// COPY text
// ---------------------------------------------------------------------------------
export interface ChunkOptions {
  /** Chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
  /** Only these schools (default all): lets two connections split one table. */
  schools?: readonly SchoolPlan[];
  /** Called with the number of rows in every chunk produced. */
  onRows?: (rows: number) => void;
}

const latin = (text: string) => Buffer.from(text, 'latin1');
const T_SUCCEEDED = latin('succeeded');
const T_REFUNDED = latin('refunded');
const T_FAILED = latin('failed');
const T_TRUE = latin('t');
const T_FALSE = latin('f');
const T_RCPT = latin('RCPT-');
const T_PAY = latin('PAY-');
const METHOD_BYTES = new Map<PaymentMethod, Buffer>(
  (['card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet'] as const).map((m) => [m, latin(m)]),
);
const GRADE_BYTES = GRADES.map(latin);
const methodBytes = (method: PaymentMethod) => METHOD_BYTES.get(method) as Buffer;
const utf8Cache = new Map<string, Buffer>();
/** Small vocabularies (names, messages, gateways, item names) are encoded once. */
function utf8(text: string): Buffer {
  let bytes = utf8Cache.get(text);
  if (bytes === undefined) {
    bytes = Buffer.from(copyTextEscape(text), 'utf8');
    utf8Cache.set(text, bytes);
  }
  return bytes;
}

function copyTextEscape(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : value;
}

/** COPY text for one table (columns as in COLUMNS), in chunks of bytes, streaming. */
export function* tableChunks(plan: SeedPlan, table: CopyTable, options: ChunkOptions = {}): Generator<Buffer> {
  const out = new CopyWriter(options.chunkSize ?? 1 << 20);
  const take = () => {
    options.onRows?.(out.rows);
    return out.take();
  };
  const schools = options.schools ?? plan.schools;
  const ledger = LEDGER_TABLES.has(table);
  for (const school of schools) {
    if (table === 'schools') {
      schoolRow(out, school);
    } else {
      const book = buildBook(plan, school, ledger);
      for (const _ of rows(out, plan, book, table)) {
        yield take();
      }
    }
    if (out.full) {
      yield take();
    }
  }
  if (out.rows > 0) {
    yield take();
  }
}

/**
 * One school's rows of several tables from ONE book (the loader's path: the book is the
 * expensive part, so it is built once per school for all tables). Chunks that fill up go
 * to `emit` with their row counts; the caller takes what is left in the writers.
 */
export function writeSchool(
  plan: SeedPlan,
  school: SchoolPlan,
  writers: ReadonlyMap<CopyTable, CopyWriter>,
  emit: (table: CopyTable, chunk: Buffer, rows: number) => void,
): FailedTargets | undefined {
  const tables = [...writers.keys()];
  const ledger = tables.some((t) => LEDGER_TABLES.has(t));
  const book = tables.some((t) => t !== 'schools') ? buildBook(plan, school, ledger) : undefined;
  for (const [table, out] of writers) {
    if (table === 'schools') {
      schoolRow(out, school);
    } else if (book !== undefined) {
      for (const _ of rows(out, plan, book, table)) {
        const n = out.rows;
        emit(table, out.take(), n);
      }
    }
    // The small tables (a school's row, its bill runs, awards…) yield no chunk of their
    // own within a school; a batch of many small schools (4 000 for L's students) fills
    // them too, so the chunk is handed out between schools once full.
    if (out.full) {
      const n = out.rows;
      emit(table, out.take(), n);
    }
  }
  return book !== undefined && ledger ? failedTargets(book) : undefined;
}

/** What a school's failed attempts need of its book: who fails less, and which invoice asked how much. */
export interface FailedTargets {
  behaviours: Uint8Array;
  /** First invoice ordinal of student s in month m, at [s × months + m]. */
  firstInvoice: Int32Array;
  /** Invoice amounts by ordinal. */
  amounts: Float64Array;
}

function failedTargets(book: SchoolBook): FailedTargets {
  return {
    behaviours: Uint8Array.from(book.students, (s) => s.behaviour),
    firstInvoice: book.firstInvoice,
    amounts: Float64Array.from(book.invoices, (i) => i.amount),
  };
}

/** A school's failed attempts (school.failed of them) as COPY text for the transactions. */
export function failedChunks(plan: SeedPlan, school: SchoolPlan, targets: FailedTargets, out: CopyWriter, emit: (chunk: Buffer, rows: number) => void): void {
  const rng = new Rng(hash32(plan.key, R_FAILED, school.index));
  const offsetMs = school.region.utcOffset * HOUR;
  const issued = plan.months.map((month) => issuedAt(month, offsetMs, plan.nowMs));
  for (let f = 0; f < school.failed; f++) {
    failedRow(out, plan, school, targets, f, rng, issued);
    if (out.full) {
      const n = out.rows;
      emit(out.take(), n);
    }
  }
}

/** Writes one school's rows of `table`; yields whenever the writer is full (the caller takes the chunk). */
function* rows(out: CopyWriter, plan: SeedPlan, book: SchoolBook, table: Exclude<CopyTable, 'schools'>): Generator<void> {
  const { school } = book;
  const sid = schoolIdBytes(school);
  const lang = school.lang;
  switch (table) {
    case 'families':
      for (const f of book.families) {
        out.bytes(sid).tab().ascii(f.id).tab().bytes(utf8(f.name)).tab().ascii(f.reference).tab().ascii(lang).tab();
        out.timestamp(f.createdMs).tab().timestamp(f.createdMs).end();
        if (out.full) {
          yield;
        }
      }
      return;
    case 'guardians':
      for (const f of book.families) {
        for (const g of f.guardians) {
          out.bytes(sid).tab().ascii(g.id).tab().ascii(f.id).tab().bytes(utf8(g.firstName)).tab().bytes(utf8(g.lastName)).tab();
          out.text(g.email).tab().text(g.phone).tab().ascii(g.relationship).tab().ascii(lang).tab().bytes(g.primary ? T_TRUE : T_FALSE).tab();
          out.timestamp(f.createdMs).tab().timestamp(f.createdMs).end();
        }
        if (out.full) {
          yield;
        }
      }
      return;
    case 'students':
      for (const st of book.students) {
        const email = `${st.firstName}.${st.lastName}.${school.prefix}${st.index + 1}@families.example`
          .normalize('NFD')
          .replace(/[\u0300-\u036f]/g, '')
          .toLowerCase();
        out.ascii(st.id).tab().bytes(sid).tab().ascii((book.families[st.family] as { id: string }).id).tab();
        out.bytes(utf8(st.firstName)).tab().bytes(utf8(st.lastName)).tab().text(email).tab().bytes(GRADE_BYTES[st.grade] as Buffer).tab();
        out.ascii(st.enrolledDate).tab().bytes(T_TRUE).tab().timestamp(st.createdMs).tab().timestamp(st.createdMs).end();
        if (out.full) {
          yield;
        }
      }
      return;
    case 'fee_plans':
      out.bytes(sid).tab().ascii(book.planId).tab().text(`${lang === 'es' ? 'Plan de pagos' : 'Fee plan'} ${plan.year.label}`).tab();
      out.ascii(plan.year.label).tab().ascii(plan.year.start).tab().ascii(plan.year.end).tab();
      out.timestamp(book.planCreatedMs).tab().timestamp(book.planCreatedMs).end();
      return;
    case 'fee_plan_items':
      for (const item of plan.items) {
        out.bytes(sid).tab().ascii(book.planId).tab().ascii(item.code).tab().bytes(utf8(item.description[lang])).tab().int(item.amount(school)).tab();
        out.bytes(item.optional ? T_TRUE : T_FALSE).tab().text(JSON.stringify(item.schedule)).tab().int(item.position).tab();
        out.timestamp(book.planCreatedMs).tab().timestamp(book.planCreatedMs).end();
      }
      return;
    case 'discount_rules':
      for (const { billing: r } of book.rules) {
        out.bytes(sid).tab().ascii(r.id).tab().bytes(utf8(r.name)).tab().ascii(r.kind).tab().ascii(r.basis).tab().int(r.value).tab();
        out.ascii(r.itemCodes === null ? '\\N' : `{${r.itemCodes.join(',')}}`).tab();
        if (r.fromSiblingNumber === null) {
          out.nul();
        } else {
          out.int(r.fromSiblingNumber);
        }
        out.tab().ascii(r.stacking).tab().timestamp(book.planCreatedMs).tab().timestamp(book.planCreatedMs).end();
      }
      return;
    case 'enrolments':
      for (const st of book.students) {
        out.bytes(sid).tab().ascii(st.enrolmentId).tab().ascii(st.id).tab().ascii(book.planId).tab().ascii(plan.year.start).tab();
        out.ascii(st.transport ? '{transport}' : '{}').tab().timestamp(st.enrolmentMs).tab().timestamp(st.enrolmentMs).end();
        if (out.full) {
          yield;
        }
      }
      return;
    case 'enrolment_payers':
      for (const st of book.students) {
        const family = book.families[st.family];
        if (family?.split) {
          family.guardians.forEach((g, position) => {
            const ppm = family.split?.[position] ?? 0;
            out.bytes(sid).tab().ascii(st.enrolmentId).tab().ascii(g.id).tab().ascii((ppm / 1_000_000).toFixed(6)).tab().int(position).end();
          });
          if (out.full) {
            yield;
          }
        }
      }
      return;
    case 'awards':
      for (const st of book.students) {
        if (st.awardId !== null) {
          const rule = book.rules[st.award] as { id: string };
          out.bytes(sid).tab().ascii(st.awardId).tab().ascii(st.id).tab().ascii(rule.id).tab().bytes(utf8(st.awardReason)).tab();
          out.timestamp(st.enrolmentMs + MINUTE).end();
        }
      }
      return;
    case 'bill_runs': {
      const units = book.families.length;
      for (const run of book.runs) {
        const month = plan.months[run.month] as MonthPlan;
        out.bytes(sid).tab().ascii(run.id).tab().ascii(month.through).tab().ascii('finished').tab();
        out.int(run.invoices).tab().int(run.lines).tab().int(run.skipped).tab().int(units).tab().int(units).tab();
        out.text(JSON.stringify(totalsList(run.totals))).tab();
        out.timestamp(run.createdMs).tab().timestamp(run.createdMs).tab().timestamp(run.finishedMs).end();
      }
      return;
    }
    case 'invoices':
      for (const inv of book.invoices) {
        const d = inv.draft;
        out.ascii(inv.id).tab().bytes(sid).tab().ascii(inv.student.id).tab().ascii(d.familyId ?? '\\N').tab().ascii(d.payerGuardianId ?? '\\N').tab();
        out.ascii(d.billRunId ?? '\\N').tab().ascii(inv.number).tab().bytes(utf8(d.description ?? '')).tab().int(inv.amount).tab().int(inv.paid).tab();
        out.ascii(d.dueDate).tab().timestamp(inv.createdMs).tab().timestamp(inv.updatedMs).tab();
        if (inv.cancelledMs) {
          out.timestamp(inv.cancelledMs);
        } else {
          out.nul();
        }
        out.end();
        if (out.full) {
          yield;
        }
      }
      return;
    case 'invoice_lines':
      for (const inv of book.invoices) {
        inv.draft.lines.forEach((line, i) => {
          out.bytes(sid).tab().seededUuid(plan.key, K_LINE, school.index, inv.firstLine + i, inv.createdMs).tab().ascii(inv.id).tab();
          out.ascii(line.kind).tab().ascii(line.code).tab().bytes(utf8(line.description)).tab().signed(line.amount).tab();
          out.ascii(line.enrolmentId ?? '\\N').tab().ascii(line.itemCode ?? '\\N').tab().ascii(line.dueDate ?? '\\N').tab();
          out.ascii(line.ruleId ?? '\\N').tab().ascii(line.awardId ?? '\\N').tab().ascii(line.billingKey ?? '\\N').tab().timestamp(inv.createdMs).end();
        });
        if (out.full) {
          yield;
        }
      }
      return;
    case 'payments': {
      const prefix = latin(`${school.prefix}-`);
      for (const p of book.payments) {
        writePaymentId(out, plan, school, p).tab().bytes(sid).tab().ascii(p.invoice.id).tab().int(p.amount).tab().bytes(methodBytes(p.method)).tab();
        // A bank transfer carries the family's reference, as the school asks families to write.
        if (p.method === 'bank_transfer') {
          out.ascii(p.invoice.familyReference);
        } else {
          out.bytes(p.method === 'cash' ? T_RCPT : T_PAY).bytes(prefix).int(p.reference);
        }
        out.tab().timestamp(p.paidMs).tab().timestamp(p.paidMs).end();
        if (out.full) {
          yield;
        }
      }
      return;
    }
    case 'receipts':
      for (const r of book.receipts) {
        out.bytes(sid).tab().int(r.seq).tab().text(r.number).tab().ascii(r.paymentId).tab().timestamp(r.payment.paidMs).end();
        if (out.full) {
          yield;
        }
      }
      return;
    case 'refunds':
      for (const r of book.refunds) {
        writeRefundId(out, plan, school, r).tab().bytes(sid).tab();
        writePaymentId(out, plan, school, r.payment).tab().ascii(r.payment.invoice.id).tab().int(r.amount).tab().bytes(utf8(r.reason)).tab().timestamp(r.createdMs).end();
        if (out.full) {
          yield;
        }
      }
      return;
    case 'transactions': {
      const gatewayRng = new Rng(hash32(plan.key, R_FAILED, school.index, 1));
      for (const p of book.payments) {
        out.seededUuid(plan.key, K_TX_SUCCEEDED, school.index, p.index, p.paidMs).tab().bytes(sid).tab().ascii(p.invoice.id).tab();
        writePaymentId(out, plan, school, p).tab().nul().tab().int(p.amount).tab().bytes(methodBytes(p.method)).tab().bytes(T_SUCCEEDED).tab();
        out.nul().tab().nul().tab().bytes(utf8(gatewayFor(gatewayRng, school, p.method))).tab().timestamp(p.paidMs).end();
        if (out.full) {
          yield;
        }
      }
      for (const r of book.refunds) {
        const p = r.payment;
        out.seededUuid(plan.key, K_TX_REFUNDED, school.index, p.index, r.createdMs).tab().bytes(sid).tab().ascii(p.invoice.id).tab();
        writePaymentId(out, plan, school, p).tab();
        writeRefundId(out, plan, school, r).tab().int(r.amount).tab().bytes(methodBytes(p.method)).tab().bytes(T_REFUNDED).tab();
        out.nul().tab().nul().tab().bytes(utf8(gatewayFor(gatewayRng, school, p.method))).tab().timestamp(r.createdMs).end();
        if (out.full) {
          yield;
        }
      }
      // The failed attempts, when their quotas are known (planSeed counted; the loader adds them at the end).
      const failed = new Rng(hash32(plan.key, R_FAILED, school.index));
      const offsetMs = school.region.utcOffset * HOUR;
      const issued = plan.months.map((month) => issuedAt(month, offsetMs, plan.nowMs));
      const targets = school.failed > 0 ? failedTargets(book) : undefined;
      for (let f = 0; f < school.failed && targets !== undefined; f++) {
        failedRow(out, plan, school, targets, f, failed, issued);
        if (out.full) {
          yield;
        }
      }
      return;
    }
  }
}

const K_LINE = 16;

function schoolRow(out: CopyWriter, school: SchoolPlan): void {
  const r = school.region;
  const slug = school.name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-');
  out.text(school.id).tab().text(school.name).tab().text(r.city).tab();
  out.text(`${r.phone} 555 ${String(school.index % 10_000).padStart(4, '0')}`).tab().text(`cobranza@${slug}.example`).tab();
  out.text(r.currency).tab().text(r.timezone).tab().text(school.lang).tab().bytes(T_FALSE).tab().bytes(T_TRUE).tab();
  out.timestamp(school.createdMs).tab().timestamp(school.createdMs).end();
}

const schoolIdCache = new WeakMap<SchoolPlan, Buffer>();
function schoolIdBytes(school: SchoolPlan): Buffer {
  let bytes = schoolIdCache.get(school);
  if (bytes === undefined) {
    bytes = latin(school.id);
    schoolIdCache.set(school, bytes);
  }
  return bytes;
}

function writePaymentId(out: CopyWriter, plan: SeedPlan, school: SchoolPlan, payment: PaymentRec): CopyWriter {
  return out.seededUuid(plan.key, K_PAYMENT, school.index, payment.index, payment.paidMs);
}

function writeRefundId(out: CopyWriter, plan: SeedPlan, school: SchoolPlan, refund: RefundRec): CopyWriter {
  return out.seededUuid(plan.key, K_REFUND, school.index, refund.payment.index, refund.createdMs);
}

function gatewayFor(rng: Rng, school: SchoolPlan, method: PaymentMethod): string {
  if (method === 'cash') {
    return 'internal';
  }
  const gateways = school.region.gateways;
  return rng.chance(0.75) ? (gateways[0] as string) : rng.pick(gateways);
}

/** Tries at drawing an attempt time that is not in the future before falling back to uniform. */
const FAILED_DRAWS = 8;
/** Share of failed attempts placed anywhere in the last 7 days: retries of recent ones. */
const FAILED_RECENT = 0.01;

/**
 * One failed attempt against one of the school's invoices. Attempts follow payment
 * activity: a month is picked at random, then a moment in it shaped like the payments —
 * mostly in the days up to the due date (60 %), then while late families are chased
 * (25 %, up to 45 days after it), the rest anywhere in the month — in the school's
 * business hours; draws after `now` are drawn again (so the current month gets only the
 * attempts of its days so far). Only a mild recency bump (1 % anywhere in the last 7
 * days) on top, so the last 24 hours hold roughly 1/365 to 1/100 of all attempts, as in
 * real traffic. The invoice is one already issued by then, for the amount it asks.
 */
function failedRow(out: CopyWriter, plan: SeedPlan, school: SchoolPlan, targets: FailedTargets, f: number, rng: Rng, issued: readonly number[]): void {
  const { nowMs, months } = plan;
  const startMs = issued[0] as number;
  const offsetMs = school.region.utcOffset * HOUR;
  let at = -1;
  if (rng.chance(FAILED_RECENT)) {
    at = nowMs - rng.next() * 7 * DAY;
  } else {
    for (let draw = 0; draw < FAILED_DRAWS && at < 0; draw++) {
      const k = rng.int(0, months.length - 1);
      const month = months[k] as MonthPlan;
      const x = rng.next();
      const candidate =
        x < 0.6
          ? month.dueMs - rng.int(0, 9) * DAY + localTime(rng, offsetMs)
          : x < 0.85
            ? month.dueMs + rng.int(1, 45) * DAY + localTime(rng, offsetMs)
            : (issued[k] as number) + rng.next() * 30 * DAY;
      if (candidate <= nowMs) {
        at = candidate;
      }
    }
    if (at < 0) {
      at = startMs + rng.next() * (nowMs - startMs);
    }
  }
  at = Math.min(Math.max(Math.floor(at), startMs + MINUTE), nowMs);
  // The latest invoice issued by then, or (30 %) an older one still being chased.
  let m = months.length - 1;
  while (m > 0 && (issued[m] as number) > at) {
    m--;
  }
  if (rng.chance(0.3)) {
    m = rng.int(0, m);
  }
  // Families that pay on time fail less often.
  const students = targets.behaviours.length;
  let s = rng.int(0, students - 1);
  if (targets.behaviours[s] === 0 && rng.chance(0.6)) {
    s = rng.int(0, students - 1);
  }
  const ordinal = targets.firstInvoice[s * months.length + m] ?? 0;
  const amount = targets.amounts[ordinal] ?? 0;
  const method = FAILED_METHOD_WEIGHTS.pick(rng);
  const failures = method === 'direct_debit' ? DEBIT_FAILURES : method === 'bank_transfer' ? TRANSFER_FAILURES : method === 'cash_voucher' ? VOUCHER_FAILURES : CARD_FAILURES;
  const [code, message] = failures.pick(rng);
  out.seededUuid(plan.key, K_TX_FAILED, school.index, f, at).tab().bytes(schoolIdBytes(school)).tab();
  // The invoice's id, as book.ts gives it (issued that month, numbered by its ordinal).
  out.seededUuid(plan.key, K_INVOICE, school.index, ordinal, issued[m] as number).tab();
  out.nul().tab().nul().tab().int(amount > 0 ? amount : school.tuition).tab().bytes(methodBytes(method)).tab().bytes(T_FAILED).tab();
  out.bytes(utf8(code)).tab().bytes(utf8(message)).tab().bytes(utf8(gatewayFor(rng, school, method))).tab().timestamp(at).end();
}
