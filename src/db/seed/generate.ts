import type { PaymentMethod } from '../types.js';
import {
  BEHAVIOUR_WEIGHTS,
  CARD_FAILURES,
  DEBIT_FAILURES,
  FAILED_METHOD_WEIGHTS,
  FIRST_NAMES,
  GRADES,
  LAST_NAMES,
  METHOD_WEIGHTS,
  REFUND_REASONS,
  REGIONS,
  SCHOOL_KINDS_EN,
  SCHOOL_KINDS_ES,
  SCHOOL_PATRONS,
  TRANSFER_FAILURES,
  VOUCHER_FAILURES,
  type Region,
} from './catalog.js';
import { hash32, hashString, Rng } from './random.js';
import { CopyWriter } from './copy-writer.js';
import { seededUuid } from './uuid.js';

/**
 * The pure part of the seeder: a small plan (schools and their sizes) and streaming
 * generators that turn it into COPY text, table by table, in chunks.
 *
 * Every school has its own PRNG seeds and every row id is a hash of its position, so a
 * table's stream re-walks the schools' "ledgers" (students → invoices → payments →
 * refunds) on its own, without any other table in memory: the same seed, sizes and
 * `now` give the same rows whichever table is generated and in whatever order.
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

export const SEED_TABLES = ['schools', 'students', 'invoices', 'payments', 'refunds', 'transactions'] as const;
export type SeedTable = (typeof SEED_TABLES)[number];

export const COLUMNS: Record<SeedTable, readonly string[]> = {
  schools: ['id', 'name', 'address', 'phone', 'email', 'currency', 'timezone', 'public_statements', 'is_active', 'created_at', 'updated_at'],
  students: ['id', 'school_id', 'first_name', 'last_name', 'email', 'grade', 'enrolled_at', 'is_active', 'created_at', 'updated_at'],
  invoices: ['id', 'school_id', 'student_id', 'number', 'description', 'amount', 'paid_amount', 'due_date', 'created_at', 'updated_at', 'cancelled_at'],
  payments: ['id', 'school_id', 'invoice_id', 'amount', 'method', 'reference', 'paid_at', 'created_at'],
  refunds: ['id', 'school_id', 'payment_id', 'invoice_id', 'amount', 'reason', 'created_at'],
  transactions: ['id', 'school_id', 'invoice_id', 'payment_id', 'refund_id', 'amount', 'method', 'status', 'failure_code', 'failure_message', 'gateway', 'created_at'],
};

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// Id kinds and PRNG streams (mixed into hash32 with the seed and the school index).
const K_SCHOOL = 1;
const K_STUDENT = 2;
const K_INVOICE = 3;
const K_PAYMENT = 4;
const K_REFUND = 5;
const K_TX_SUCCEEDED = 6;
const K_TX_REFUNDED = 7;
const K_TX_FAILED = 8;
const R_PLAN = 101;
const R_SCHOOL = 102;
const R_LEDGER = 103;
const R_FAILED = 104;

export interface MonthPlan {
  /** 'YYYY-MM-DD' */
  dueDate: string;
  /** Midnight UTC of the due date. */
  dueMs: number;
  /** Midnight UTC of the first day of the month. */
  firstMs: number;
  /** 'YYYYMM' */
  label: string;
  description: string;
}

export interface SchoolPlan {
  /** Global index (offset included): the key of all its randomness. */
  index: number;
  id: string;
  name: string;
  prefix: string;
  region: Region;
  createdMs: number;
  /** Tuition per grade (index 0 = grade '1'), in cents. */
  fees: number[];
  students: number;
  payments: number;
  refunds: number;
  failed: number;
}

export interface SeedPlan {
  key: number;
  nowMs: number;
  months: MonthPlan[];
  schools: SchoolPlan[];
  /** Exact number of rows every table will get. */
  counts: Record<SeedTable, number>;
  /** Students per behaviour (on_time, late, partial, never). */
  behaviours: Record<'on_time' | 'late' | 'partial' | 'never', number>;
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** Invoices are issued on the 1st at 06:00 school time (never in the future). */
const issuedAt = (month: MonthPlan, offsetMs: number, nowMs: number) => Math.min(month.firstMs + 6 * HOUR - offsetMs, nowMs - HOUR);

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
  if (sizes.months < 1 || sizes.months > 120) {
    throw new RangeError('months must be between 1 and 120');
  }
}

/**
 * Decides the schools (region, fees, size) and counts every row by walking the ledgers
 * once without producing text, so the failed attempts can top the transactions up to the
 * requested total. Throws when that total is below the succeeded + refunded ones.
 */
export function planSeed(options: GenerateOptions): SeedPlan {
  validateSizes(options);
  const key = hashString(options.seed);
  const nowMs = (options.now ?? new Date()).getTime();
  const offset = options.schoolOffset ?? 0;
  const now = new Date(nowMs);

  const months: MonthPlan[] = [];
  for (let m = 0; m < options.months; m++) {
    const back = options.months - 1 - m;
    const firstMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1);
    const dueMs = firstMs + 9 * DAY;
    const dueDate = isoDate(dueMs);
    months.push({ dueDate, dueMs, firstMs, label: dueDate.slice(0, 7).replace('-', ''), description: `Tuition ${dueDate.slice(0, 7)}` });
  }

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
    const fees = GRADES.map((_, g) => Math.max(1, Math.round((base * (1 + 0.045 * g)) / region.round)) * region.round * 100);
    const createdMs = (months[0]?.firstMs ?? nowMs) - rng.int(400, 3_000) * DAY + (9 - region.utcOffset) * HOUR + rng.int(0, 3_599) * 1000;
    const prefix = `S${(index + 1).toString(36).toUpperCase().padStart(3, '0')}`;
    schools.push({
      index,
      id: seededUuid(key, K_SCHOOL, index, 0, createdMs),
      name,
      prefix,
      region,
      createdMs,
      fees,
      students: sizes[i] ?? 1,
      payments: 0,
      refunds: 0,
      failed: 0,
    });
  }

  const plan: SeedPlan = {
    key,
    nowMs,
    months,
    schools,
    counts: { schools: options.schools, students: options.students, invoices: options.students * options.months, payments: 0, refunds: 0, transactions: options.transactions },
    behaviours: { on_time: 0, late: 0, partial: 0, never: 0 },
  };
  const behaviourNames = ['on_time', 'late', 'partial', 'never'] as const;
  const counter: LedgerSink = {
    payment: (p) => {
      p.invoice.school.payments++;
    },
    refund: (r) => {
      r.payment.invoice.school.refunds++;
    },
  };
  for (const school of schools) {
    for (let s = 0; s < school.students; s++) {
      const student = walkStudent(plan, school, s, counter);
      plan.behaviours[behaviourNames[student.behaviour] ?? 'never']++;
    }
    plan.counts.payments += school.payments;
    plan.counts.refunds += school.refunds;
  }
  const failed = options.transactions - plan.counts.payments - plan.counts.refunds;
  if (failed < 0) {
    throw new RangeError(
      `transactions (${options.transactions}) must be at least ${plan.counts.payments + plan.counts.refunds} for this data set ` +
        `(one per payment and per refund); the rest are failed attempts`,
    );
  }
  const quotas = apportion(failed, schools.map((s) => s.students));
  schools.forEach((school, i) => {
    school.failed = quotas[i] ?? 0;
  });
  return plan;
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
// Ledger walk
// ---------------------------------------------------------------------------------
export interface StudentRec {
  /** Index within the school. */
  index: number;
  firstName: string;
  lastName: string;
  /** Index into GRADES. */
  grade: number;
  enrolledDate: string;
  createdMs: number;
  /** Index into BEHAVIOURS. */
  behaviour: number;
  method: PaymentMethod;
  fee: number;
}

export interface InvoiceRec {
  school: SchoolPlan;
  student: StudentRec;
  month: number;
  amount: number;
  paid: number;
  createdMs: number;
  updatedMs: number;
  cancelledMs: number;
}

export interface PaymentRec {
  invoice: InvoiceRec;
  /** Row index within the school: (student × months + month) × 2 + k. */
  index: number;
  amount: number;
  method: PaymentMethod;
  paidMs: number;
  reference: number;
}

export interface RefundRec {
  payment: PaymentRec;
  amount: number;
  createdMs: number;
  reason: string;
}

export interface LedgerSink {
  invoice?(invoice: InvoiceRec): void;
  payment?(payment: PaymentRec): void;
  refund?(refund: RefundRec): void;
}

/** A time of day between 07:00 and 21:00 school time, as an offset from UTC midnight. */
function localTime(rng: Rng, offsetMs: number): number {
  return (rng.int(7, 20) * 60 + rng.int(0, 59)) * MINUTE + rng.int(0, 59_999) - offsetMs;
}

function payMethod(rng: Rng, usual: PaymentMethod): PaymentMethod {
  return rng.chance(0.8) ? usual : METHOD_WEIGHTS.pick(rng);
}

function studentRng(plan: SeedPlan, school: SchoolPlan, s: number): Rng {
  return new Rng(hash32(plan.key, R_LEDGER, school.index, s));
}

/** The student's own attributes: the first draws of its PRNG. */
function studentHeader(plan: SeedPlan, school: SchoolPlan, s: number, rng: Rng): StudentRec {
  const offsetMs = school.region.utcOffset * HOUR;
  const firstMonthMs = plan.months[0]?.firstMs ?? plan.nowMs;
  const firstName = rng.pick(FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const grade = rng.int(0, GRADES.length - 1);
  const behaviour = BEHAVIOUR_WEIGHTS.pick(rng);
  const method = METHOD_WEIGHTS.pick(rng);
  const enrolledMs = Math.max(firstMonthMs - rng.int(2, 1_500) * DAY, school.createdMs + DAY);
  const createdMs = enrolledMs - rng.int(0, 60) * DAY + 7 * HOUR - offsetMs + rng.int(0, 36_000_000);
  return {
    index: s,
    firstName,
    lastName,
    grade,
    enrolledDate: isoDate(enrolledMs),
    createdMs: Math.max(createdMs, school.createdMs + HOUR),
    behaviour,
    method,
    fee: school.fees[grade] ?? 100,
  };
}

const draftAmount = [0, 0];
const draftAt = [0, 0];
const draftMethod: PaymentMethod[] = ['card', 'card'];

/**
 * One student's year: its invoices, the payments its family's behaviour leads to (only
 * those already made by `now`), a few refunds and cancellations. Every draw comes from the
 * student's own PRNG and never depends on the sink, so any pass and any student can be
 * generated on its own and always gives the same rows.
 */
export function walkStudent(plan: SeedPlan, school: SchoolPlan, s: number, sink: LedgerSink): StudentRec {
  const rng = studentRng(plan, school, s);
  const student = studentHeader(plan, school, s, rng);
  const { nowMs, months } = plan;
  const offsetMs = school.region.utcOffset * HOUR;
  const behaviour = student.behaviour;
  const usual = student.method;
  const amount = student.fee;

  for (let m = 0; m < months.length; m++) {
    const month = months[m] as MonthPlan;
    const issuedMs = issuedAt(month, offsetMs, nowMs);
    let drafts = 0;
    // Families mostly keep to their habit, with some noise.
    let habit = behaviour;
    if (habit === 0 && rng.chance(0.08)) {
      habit = 1;
    } else if (habit === 1 && rng.chance(0.2)) {
      habit = 0;
    }
    if (habit === 0 || habit === 1) {
      const at = habit === 0 ? month.dueMs - rng.int(0, 9) * DAY + localTime(rng, offsetMs) : month.dueMs + rng.int(2, 45) * DAY + localTime(rng, offsetMs);
      if (rng.chance(habit === 0 ? 0.07 : 0.15)) {
        // Paid in two instalments.
        const first = Math.round((amount * (0.3 + rng.next() * 0.4)) / 100) * 100;
        draftAmount[0] = first;
        draftAt[0] = at;
        draftMethod[0] = payMethod(rng, usual);
        draftAmount[1] = amount - first;
        draftAt[1] = at + rng.int(habit === 0 ? 0 : 5, habit === 0 ? 2 : 20) * DAY + rng.int(1, 120) * MINUTE;
        draftMethod[1] = payMethod(rng, usual);
        drafts = 2;
      } else {
        draftAmount[0] = amount;
        draftAt[0] = at;
        draftMethod[0] = payMethod(rng, usual);
        drafts = 1;
      }
    } else if (habit === 2) {
      const at = month.dueMs + rng.int(-5, 10) * DAY + localTime(rng, offsetMs);
      const first = Math.round((amount * (0.3 + rng.next() * 0.4)) / 100) * 100;
      draftAmount[0] = first;
      draftAt[0] = at;
      draftMethod[0] = payMethod(rng, usual);
      drafts = 1;
      if (rng.chance(0.35)) {
        // Catches up later, fully or only partly.
        const rest = amount - first;
        draftAmount[1] = rng.chance(0.6) ? rest : Math.round((rest * (0.3 + rng.next() * 0.5)) / 100) * 100;
        draftAt[1] = at + rng.int(10, 40) * DAY;
        draftMethod[1] = payMethod(rng, usual);
        drafts = 2;
      }
    }

    const invoice: InvoiceRec = { school, student, month: m, amount, paid: 0, createdMs: issuedMs, updatedMs: issuedMs, cancelledMs: 0 };
    let payment0: PaymentRec | undefined;
    let payment1: PaymentRec | undefined;
    let refund0: RefundRec | undefined;
    let refund1: RefundRec | undefined;
    for (let k = 0; k < drafts; k++) {
      const draftValue = draftAmount[k] as number;
      // Payments still in the future have not happened yet; nor have the ones after them.
      if (draftValue <= 0 || (draftAt[k] as number) > nowMs || draftValue > amount - invoice.paid) {
        break;
      }
      const paidMs = Math.max(draftAt[k] as number, issuedMs + MINUTE);
      const payment: PaymentRec = {
        invoice,
        index: (s * months.length + m) * 2 + k,
        amount: draftValue,
        method: draftMethod[k] as PaymentMethod,
        paidMs,
        reference: rng.int(10_000_000, 99_999_999),
      };
      invoice.paid += draftValue;
      invoice.updatedMs = paidMs;
      let refund: RefundRec | undefined;
      if (rng.chance(0.012)) {
        const refundMs = paidMs + rng.int(1, 20) * DAY + rng.int(0, 600) * MINUTE;
        const full = rng.chance(0.5);
        const partial = Math.round((draftValue * (0.1 + rng.next() * 0.4)) / 100) * 100;
        const reason = rng.pick(REFUND_REASONS);
        if (refundMs <= nowMs) {
          refund = { payment, amount: full ? draftValue : Math.min(draftValue, Math.max(1, partial)), createdMs: refundMs, reason };
        }
      }
      if (k === 0) {
        payment0 = payment;
        refund0 = refund;
      } else {
        payment1 = payment;
        refund1 = refund;
      }
    }
    for (const refund of [refund0, refund1]) {
      if (refund) {
        invoice.paid -= refund.amount;
        invoice.updatedMs = Math.max(invoice.updatedMs, refund.createdMs);
      }
    }
    if (payment0 === undefined && month.dueMs + 5 * DAY < nowMs && rng.chance(behaviour === 3 ? 0.2 : 0.03)) {
      const cancelledMs = month.dueMs + rng.int(5, 30) * DAY + localTime(rng, offsetMs);
      if (cancelledMs <= nowMs) {
        invoice.cancelledMs = cancelledMs;
        invoice.updatedMs = cancelledMs;
      }
    }

    sink.invoice?.(invoice);
    if (payment0) {
      sink.payment?.(payment0);
      if (payment1) {
        sink.payment?.(payment1);
      }
      if (refund0) {
        sink.refund?.(refund0);
      }
      if (refund1) {
        sink.refund?.(refund1);
      }
    }
  }
  return student;
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
/** Small vocabularies (names, messages, gateways) are encoded once. */
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
export function* tableChunks(plan: SeedPlan, table: SeedTable, options: ChunkOptions = {}): Generator<Buffer> {
  const out = new CopyWriter(options.chunkSize ?? 1 << 20);
  const take = () => {
    options.onRows?.(out.rows);
    return out.take();
  };
  const schools = options.schools ?? plan.schools;
  for (const school of schools) {
    if (table === 'schools') {
      schoolRow(out, school);
    } else if (table === 'students') {
      for (let s = 0; s < school.students; s++) {
        studentRow(out, plan, school, studentHeader(plan, school, s, studentRng(plan, school, s)));
        if (out.full) {
          yield take();
        }
      }
    } else {
      const sink = table === 'transactions' ? transactionSink(plan, school, out) : ledgerSink(plan, school, table, out);
      const grades = new Uint8Array(school.students);
      const behaviours = new Uint8Array(school.students);
      for (let s = 0; s < school.students; s++) {
        const student = walkStudent(plan, school, s, sink);
        grades[s] = student.grade;
        behaviours[s] = student.behaviour;
        if (out.full) {
          yield take();
        }
      }
      if (table === 'transactions') {
        const failed = new Rng(hash32(plan.key, R_FAILED, school.index));
        const offsetMs = school.region.utcOffset * HOUR;
        const issued = plan.months.map((month) => issuedAt(month, offsetMs, plan.nowMs));
        for (let f = 0; f < school.failed; f++) {
          failedRow(out, plan, school, f, failed, grades, behaviours, issued);
          if (out.full) {
            yield take();
          }
        }
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

function schoolRow(out: CopyWriter, school: SchoolPlan): void {
  const r = school.region;
  const slug = school.name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-');
  out.text(school.id).tab().text(school.name).tab().text(r.city).tab();
  out.text(`${r.phone} 555 ${String(school.index % 10_000).padStart(4, '0')}`).tab().text(`cobranza@${slug}.example`).tab();
  out.text(r.currency).tab().text(r.timezone).tab().bytes(T_FALSE).tab().bytes(T_TRUE).tab();
  out.timestamp(school.createdMs).tab().timestamp(school.createdMs).end();
}

function studentRow(out: CopyWriter, plan: SeedPlan, school: SchoolPlan, st: StudentRec): void {
  const email = `${st.firstName}.${st.lastName}.${school.prefix}${st.index + 1}@families.example`
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
  out.seededUuid(plan.key, K_STUDENT, school.index, st.index, st.createdMs).tab().bytes(schoolIdBytes(school)).tab();
  out.bytes(utf8(st.firstName)).tab().bytes(utf8(st.lastName)).tab().text(email).tab().bytes(GRADE_BYTES[st.grade] as Buffer).tab();
  out.text(st.enrolledDate).tab().bytes(T_TRUE).tab().timestamp(st.createdMs).tab().timestamp(st.createdMs).end();
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

function writeInvoiceId(out: CopyWriter, plan: SeedPlan, invoice: InvoiceRec): CopyWriter {
  return out.seededUuid(plan.key, K_INVOICE, invoice.school.index, invoice.student.index * plan.months.length + invoice.month, invoice.createdMs);
}

function writePaymentId(out: CopyWriter, plan: SeedPlan, payment: PaymentRec): CopyWriter {
  return out.seededUuid(plan.key, K_PAYMENT, payment.invoice.school.index, payment.index, payment.paidMs);
}

function writeRefundId(out: CopyWriter, plan: SeedPlan, refund: RefundRec): CopyWriter {
  return out.seededUuid(plan.key, K_REFUND, refund.payment.invoice.school.index, refund.payment.index, refund.createdMs);
}

function ledgerSink(plan: SeedPlan, school: SchoolPlan, table: 'invoices' | 'payments' | 'refunds', out: CopyWriter): LedgerSink {
  const sid = schoolIdBytes(school);
  const prefix = latin(`${school.prefix}-`);
  const labels = plan.months.map((month) => latin(`${month.label}-`));
  const descriptions = plan.months.map((month) => latin(month.description));
  const dueDates = plan.months.map((month) => latin(month.dueDate));
  switch (table) {
    case 'invoices':
      return {
        invoice: (inv) => {
          writeInvoiceId(out, plan, inv).tab().bytes(sid).tab();
          out.seededUuid(plan.key, K_STUDENT, school.index, inv.student.index, inv.student.createdMs).tab();
          out.bytes(prefix).bytes(labels[inv.month] as Buffer).text(String(inv.student.index + 1).padStart(5, '0')).tab();
          out.bytes(descriptions[inv.month] as Buffer).tab().int(inv.amount).tab().int(inv.paid).tab().bytes(dueDates[inv.month] as Buffer).tab();
          out.timestamp(inv.createdMs).tab().timestamp(inv.updatedMs).tab();
          if (inv.cancelledMs) {
            out.timestamp(inv.cancelledMs);
          } else {
            out.nul();
          }
          out.end();
        },
      };
    case 'payments':
      return {
        payment: (p) => {
          writePaymentId(out, plan, p).tab().bytes(sid).tab();
          writeInvoiceId(out, plan, p.invoice).tab().int(p.amount).tab().bytes(methodBytes(p.method)).tab();
          out.bytes(p.method === 'cash' ? T_RCPT : T_PAY).bytes(prefix).int(p.reference).tab();
          out.timestamp(p.paidMs).tab().timestamp(p.paidMs).end();
        },
      };
    case 'refunds':
      return {
        refund: (r) => {
          writeRefundId(out, plan, r).tab().bytes(sid).tab();
          writePaymentId(out, plan, r.payment).tab();
          writeInvoiceId(out, plan, r.payment.invoice).tab().int(r.amount).tab().bytes(utf8(r.reason)).tab().timestamp(r.createdMs).end();
        },
      };
  }
}

function gatewayFor(rng: Rng, school: SchoolPlan, method: PaymentMethod): string {
  if (method === 'cash') {
    return 'internal';
  }
  const gateways = school.region.gateways;
  return rng.chance(0.75) ? (gateways[0] as string) : rng.pick(gateways);
}

/** A `succeeded` transaction per payment (created_at = paid_at) and a `refunded` one per refund. */
function transactionSink(plan: SeedPlan, school: SchoolPlan, out: CopyWriter): LedgerSink {
  const sid = schoolIdBytes(school);
  const gatewayRng = new Rng(hash32(plan.key, R_FAILED, school.index, 1));
  return {
    payment: (p) => {
      out.seededUuid(plan.key, K_TX_SUCCEEDED, school.index, p.index, p.paidMs).tab().bytes(sid).tab();
      writeInvoiceId(out, plan, p.invoice).tab();
      writePaymentId(out, plan, p).tab().nul().tab().int(p.amount).tab().bytes(methodBytes(p.method)).tab().bytes(T_SUCCEEDED).tab();
      out.nul().tab().nul().tab().bytes(utf8(gatewayFor(gatewayRng, school, p.method))).tab().timestamp(p.paidMs).end();
    },
    refund: (r) => {
      const p = r.payment;
      out.seededUuid(plan.key, K_TX_REFUNDED, school.index, p.index, r.createdMs).tab().bytes(sid).tab();
      writeInvoiceId(out, plan, p.invoice).tab();
      writePaymentId(out, plan, p).tab();
      writeRefundId(out, plan, r).tab().int(r.amount).tab().bytes(methodBytes(p.method)).tab().bytes(T_REFUNDED).tab();
      out.nul().tab().nul().tab().bytes(utf8(gatewayFor(gatewayRng, school, p.method))).tab().timestamp(r.createdMs).end();
    },
  };
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
 * real traffic. The invoice is one already issued by then.
 */
function failedRow(
  out: CopyWriter,
  plan: SeedPlan,
  school: SchoolPlan,
  f: number,
  rng: Rng,
  grades: Uint8Array,
  behaviours: Uint8Array,
  issued: readonly number[],
): void {
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
  let s = rng.int(0, school.students - 1);
  if (behaviours[s] === 0 && rng.chance(0.6)) {
    s = rng.int(0, school.students - 1);
  }
  const method = FAILED_METHOD_WEIGHTS.pick(rng);
  const failures = method === 'direct_debit' ? DEBIT_FAILURES : method === 'bank_transfer' ? TRANSFER_FAILURES : method === 'cash_voucher' ? VOUCHER_FAILURES : CARD_FAILURES;
  const [code, message] = failures.pick(rng);
  out.seededUuid(plan.key, K_TX_FAILED, school.index, f, at).tab().bytes(schoolIdBytes(school)).tab();
  out.seededUuid(plan.key, K_INVOICE, school.index, s * months.length + m, issued[m] as number).tab();
  out.nul().tab().nul().tab().int(school.fees[grades[s] ?? 0] ?? 100).tab().bytes(methodBytes(method)).tab().bytes(T_FAILED).tab();
  out.bytes(utf8(code)).tab().bytes(utf8(message)).tab().bytes(utf8(gatewayFor(rng, school, method))).tab().timestamp(at).end();
}
