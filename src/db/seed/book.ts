import { assembleInvoices, type DraftInvoice, type Instalment, type ItemTotal } from '../../modules/billruns/assemble.js';
import type { RuleForBilling } from '../../modules/discounts/apply.js';
import { formatReference } from '../../modules/families/reference.js';
import type { PaymentMethod } from '../types.js';
import {
  AWARD_REASONS,
  BEHAVIOUR_WEIGHTS,
  FAMILY_SIZE_WEIGHTS,
  FIRST_NAMES,
  GRADES,
  GUARDIAN_FIRST_NAMES,
  LAST_NAMES,
  METHOD_WEIGHTS,
  REFUND_REASONS,
  RULE_NAMES,
} from './catalog.js';
import { hash32, Rng } from './random.js';
import { seededUuid } from './uuid.js';
import type { MonthPlan, SchoolPlan, SeedPlan } from './generate.js';

/**
 * One school's book: its families and guardians, students, fee plan, discount rules,
 * enrolments and awards (the structure), and — when asked for — the school year billed
 * by one bill run per month and what the families paid (the ledger).
 *
 * The invoices are what the bill run itself would write: every student's instalments of
 * a month go through the bill run's own pure assembly (src/modules/billruns/assemble.ts
 * `assembleInvoices`, which applies the discounts with src/modules/discounts/apply.ts),
 * with the sibling numbers, payer shares, rules and awards the real run reads from the
 * database; the due dates come from the plan's schedules through `dueDatesOf`. So a real
 * bill run over the seeded database finds nothing left to bill (test/db/seed.test.ts).
 *
 * A book is a pure function of (seed, sizes, now, school): every table's COPY pass
 * builds the books it needs again, school by school, so no table waits for another and
 * memory stays at one school's rows.
 */
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// Id kinds (mixed into the seeded UUIDs; distinct per table).
export const K_STUDENT = 2;
export const K_INVOICE = 3;
export const K_PAYMENT = 4;
export const K_REFUND = 5;
const K_FAMILY = 9;
const K_GUARDIAN = 10;
const K_PLAN = 11;
const K_ENROLMENT = 12;
const K_RULE = 13;
const K_AWARD = 14;
const K_BILL_RUN = 15;
// PRNG streams.
const R_LEDGER = 103;
export const R_FAMILY = 105;

/** Discount rules of every seeded school, by index: 0 sibling (automatic), 1 and 2 scholarships (awards). */
export const RULE_SIBLING = 0;
export const RULE_MERIT = 1;
export const RULE_SPORTS = 2;

export interface StudentRec {
  /** Index within the school. */
  index: number;
  id: string;
  firstName: string;
  lastName: string;
  /** Index into GRADES. */
  grade: number;
  enrolledDate: string;
  createdMs: number;
  /** Index into BEHAVIOURS. */
  behaviour: number;
  method: PaymentMethod;
  /** Index of the family in the school. */
  family: number;
  /** Place among the family's siblings (1 = first): earliest enrolment, then creation order, then id (the bill run's order). */
  siblingNumber: number;
  transport: boolean;
  /** RULE_MERIT or RULE_SPORTS for a scholarship holder, else -1. */
  award: number;
  awardReason: string;
  enrolmentId: string;
  enrolmentMs: number;
  awardId: string | null;
  /** The student's own PRNG, positioned after its attributes: the ledger walk continues it. */
  rng: Rng;
}

export interface GuardianRec {
  id: string;
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  relationship: string;
  primary: boolean;
}

export interface FamilyRec {
  index: number;
  id: string;
  name: string;
  reference: string;
  createdMs: number;
  guardians: GuardianRec[];
  /** Payer shares in parts per million when the two guardians split every instalment; null: the family pays as one. */
  split: [number, number] | null;
}

export interface RuleRec {
  id: string;
  billing: RuleForBilling;
}

export interface InvoiceRec {
  /** Position in the school's invoice sequence (0 → INV-000001). */
  ordinal: number;
  id: string;
  number: string;
  student: StudentRec;
  month: number;
  draft: DraftInvoice;
  amount: number;
  paid: number;
  createdMs: number;
  updatedMs: number;
  cancelledMs: number;
  /** Ordinal of the invoice's first line in the school. */
  firstLine: number;
  /** The bank reference families write on transfers. */
  familyReference: string;
}

export interface PaymentRec {
  invoice: InvoiceRec;
  /** Row index within the school: invoice ordinal × 2 + k. */
  index: number;
  amount: number;
  method: PaymentMethod;
  paidMs: number;
  reference: number;
}

/** A payment's receipt: its place in the school's receipt sequence and its number. */
export interface ReceiptRec {
  payment: PaymentRec;
  paymentId: string;
  seq: number;
  number: string;
}

export interface RefundRec {
  payment: PaymentRec;
  amount: number;
  createdMs: number;
  reason: string;
}

export interface RunRec {
  id: string;
  month: number;
  createdMs: number;
  finishedMs: number;
  invoices: number;
  lines: number;
  /** Instalments due by `through` that earlier runs had billed already. */
  skipped: number;
  totals: Map<string, ItemTotal>;
}

export interface SchoolBook {
  school: SchoolPlan;
  planId: string;
  planCreatedMs: number;
  families: FamilyRec[];
  students: StudentRec[];
  rules: RuleRec[];
  /** Ledger only (empty otherwise). */
  invoices: InvoiceRec[];
  runs: RunRec[];
  payments: PaymentRec[];
  refunds: RefundRec[];
  /** One per payment, in the school's receipt order (paid_at, then id). */
  receipts: ReceiptRec[];
  /** First invoice ordinal of student s in month m, at [s × months + m] (ledger only). */
  firstInvoice: Int32Array;
}

export const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** Invoices are issued on the 1st at 06:00 school time (never in the future). */
export const issuedAt = (month: MonthPlan, offsetMs: number, nowMs: number) => Math.min(month.firstMs + 6 * HOUR - offsetMs, nowMs - HOUR);

const fold = (text: string) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();

/** Family sizes of a school, as the first student index of every family (and the count at the end). */
export function familyStarts(key: number, schoolIndex: number, students: number): Int32Array {
  const rng = new Rng(hash32(key, R_FAMILY, schoolIndex));
  const starts: number[] = [];
  for (let s = 0; s < students; ) {
    starts.push(s);
    s += Math.min(FAMILY_SIZE_WEIGHTS.pick(rng), students - s);
  }
  starts.push(students);
  return Int32Array.from(starts);
}

function studentRng(plan: SeedPlan, school: SchoolPlan, s: number): Rng {
  return new Rng(hash32(plan.key, R_LEDGER, school.index, s));
}

/** When the school created its fee plan and rules: a month before the year starts, at 09:00 school time. */
export function planCreatedMs(plan: SeedPlan, school: SchoolPlan): number {
  return (plan.months[0]?.firstMs ?? plan.nowMs) - 30 * DAY + (9 - school.region.utcOffset) * HOUR;
}

/** The school's three discount rules (ids and the form the bill run applies them in). */
function schoolRules(plan: SeedPlan, school: SchoolPlan, createdMs: number): RuleRec[] {
  const names = RULE_NAMES[school.lang];
  const rule = (n: number, billing: Omit<RuleForBilling, 'id' | 'awardId'>): RuleRec => {
    const id = seededUuid(plan.key, K_RULE, school.index, n, createdMs + n * MINUTE);
    return { id, billing: { id, awardId: null, ...billing } };
  };
  const common = { itemCodes: ['tuition'], cap: null, validFrom: null, validTo: null } as const;
  return [
    rule(RULE_SIBLING, { ...common, name: names.sibling, kind: 'sibling', basis: 'percent', value: 1_000, fromSiblingNumber: 2, stacking: 'stack' }),
    rule(RULE_MERIT, { ...common, name: names.merit, kind: 'scholarship', basis: 'percent', value: 5_000, fromSiblingNumber: null, stacking: 'best_only' }),
    rule(RULE_SPORTS, { ...common, name: names.sports, kind: 'scholarship', basis: 'percent', value: 2_500, fromSiblingNumber: null, stacking: 'stack' }),
  ];
}

function familyOf(plan: SeedPlan, school: SchoolPlan, f: number, createdMs: number): FamilyRec {
  const rng = new Rng(hash32(plan.key, R_FAMILY, school.index, f + 1));
  const lastName = rng.pick(LAST_NAMES);
  const two = rng.chance(0.6);
  const split: [number, number] | null = two && rng.chance(0.25) ? (rng.chance(0.6) ? [500_000, 500_000] : [700_000, 300_000]) : null;
  const id = seededUuid(plan.key, K_FAMILY, school.index, f, createdMs);
  const guardians: GuardianRec[] = [];
  for (let g = 0; g < (two ? 2 : 1); g++) {
    const firstName = rng.pick(GUARDIAN_FIRST_NAMES);
    // The second guardian keeps their own surname now and then.
    const surname = g === 1 && rng.chance(0.3) ? rng.pick(LAST_NAMES) : lastName;
    guardians.push({
      id: seededUuid(plan.key, K_GUARDIAN, school.index, f * 2 + g, createdMs),
      firstName,
      lastName: surname,
      email: fold(`${firstName}.${surname}.${school.prefix}f${f + 1}@families.example`).replace(/\s+/g, ''),
      phone: `${school.region.phone} ${rng.int(1_000_000, 9_999_999)}`,
      relationship: g === 0 ? rng.pick(['mother', 'father', 'guardian', 'mother']) : rng.pick(['father', 'mother', 'grandparent']),
      primary: g === 0,
    });
  }
  return { index: f, id, name: lastName, reference: formatReference(school.refPrefix, f + 1), createdMs, guardians, split };
}

/** The structure of a school (always) and its ledger (`ledger`: invoices, runs, payments, refunds). */
export function buildBook(plan: SeedPlan, school: SchoolPlan, ledger: boolean): SchoolBook {
  const createdPlanMs = planCreatedMs(plan, school);
  const rules = schoolRules(plan, school, createdPlanMs);
  const offsetMs = school.region.utcOffset * HOUR;
  const firstMonthMs = plan.months[0]?.firstMs ?? plan.nowMs;
  const starts = school.familyStarts;
  const familyCount = starts.length - 1;
  const lastNames: string[] = [];
  for (let f = 0; f < familyCount; f++) {
    // The family's surname is its PRNG's first draw (familyOf draws it again).
    lastNames.push(new Rng(hash32(plan.key, R_FAMILY, school.index, f + 1)).pick(LAST_NAMES));
  }

  const students: StudentRec[] = [];
  const reasons = AWARD_REASONS[school.lang];
  for (let f = 0; f < familyCount; f++) {
    for (let s = starts[f] as number; s < (starts[f + 1] as number); s++) {
      const rng = studentRng(plan, school, s);
      const firstName = rng.pick(FIRST_NAMES);
      const grade = rng.int(0, GRADES.length - 1);
      const behaviour = BEHAVIOUR_WEIGHTS.pick(rng);
      const method = METHOD_WEIGHTS.pick(rng);
      const enrolledMs = Math.max(firstMonthMs - rng.int(2, 1_500) * DAY, school.createdMs + DAY);
      const createdMs = Math.max(enrolledMs - rng.int(0, 60) * DAY + 7 * HOUR - offsetMs + rng.int(0, 36_000_000), school.createdMs + HOUR);
      const transport = rng.chance(0.3);
      const award = rng.chance(0.03) ? (rng.chance(0.35) ? RULE_MERIT : RULE_SPORTS) : -1;
      const awardReason = award < 0 ? '' : rng.pick(reasons);
      const enrolmentMs = Math.max(createdPlanMs, createdMs) + HOUR;
      students.push({
        index: s,
        id: seededUuid(plan.key, K_STUDENT, school.index, s, createdMs),
        firstName,
        lastName: lastNames[f] as string,
        grade,
        enrolledDate: isoDate(enrolledMs),
        createdMs,
        behaviour,
        method,
        family: f,
        siblingNumber: 1,
        transport,
        award,
        awardReason,
        enrolmentId: seededUuid(plan.key, K_ENROLMENT, school.index, s, enrolmentMs),
        enrolmentMs,
        awardId: award < 0 ? null : seededUuid(plan.key, K_AWARD, school.index, s, enrolmentMs + MINUTE),
        rng,
      });
    }
  }

  const families: FamilyRec[] = [];
  for (let f = 0; f < familyCount; f++) {
    const members = students.slice(starts[f], starts[f + 1]);
    // Sibling order as the bill run reads it: every enrolment starts with the year, so by creation, then id.
    members.sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    members.forEach((member, i) => {
      member.siblingNumber = i + 1;
    });
    families.push(familyOf(plan, school, f, Math.min(...members.map((m) => m.createdMs)) - 5 * MINUTE));
  }

  const book: SchoolBook = {
    school,
    planId: seededUuid(plan.key, K_PLAN, school.index, 0, createdPlanMs),
    planCreatedMs: createdPlanMs,
    families,
    students,
    rules,
    invoices: [],
    runs: [],
    payments: [],
    refunds: [],
    receipts: [],
    firstInvoice: new Int32Array(0),
  };
  if (ledger) {
    billYear(plan, book);
    walkPayments(plan, book);
    numberReceipts(plan, book);
  }
  return book;
}

/** Rules the bill run applies to a student: the school's sibling rules and the student's awards. */
function rulesOf(book: SchoolBook, student: StudentRec): RuleForBilling[] {
  const sibling = book.rules[RULE_SIBLING] as RuleRec;
  if (student.award < 0) {
    return [sibling.billing];
  }
  const awarded = book.rules[student.award] as RuleRec;
  return [sibling.billing, { ...awarded.billing, awardId: student.awardId }];
}

/**
 * Month m's bill run (on the 1st, through the month's last day) for every student: the
 * instalments due that month, in the bill run's order (due date, item position, code),
 * assembled into invoices by `assembleInvoices`. Invoices are numbered INV-000001… in the
 * order they were billed (month, student, payer).
 */
function billYear(plan: SeedPlan, book: SchoolBook): void {
  const { school, students, families } = book;
  const months = plan.months;
  const offsetMs = school.region.utcOffset * HOUR;
  const items = plan.items;
  const payers = families.map((family) =>
    family.split === null ? [] : family.guardians.map((g, i) => ({ guardianId: g.id, sharePpm: family.split?.[i] ?? 0 })),
  );
  const rules = students.map((student) => rulesOf(book, student));
  book.firstInvoice = new Int32Array(students.length * months.length);
  let lineOrdinal = 0;
  let billed = 0;
  for (let m = 0; m < months.length; m++) {
    const month = months[m] as MonthPlan;
    const issuedMs = issuedAt(month, offsetMs, plan.nowMs);
    const run: RunRec = {
      id: seededUuid(plan.key, K_BILL_RUN, school.index, m, issuedMs - 2 * MINUTE),
      month: m,
      createdMs: issuedMs - 2 * MINUTE,
      finishedMs: issuedMs + 30_000,
      invoices: 0,
      lines: 0,
      skipped: billed,
      totals: new Map(),
    };
    for (const student of students) {
      const family = families[student.family] as FamilyRec;
      const instalments: Instalment[] = [];
      for (const item of items) {
        if ((item.optional && !student.transport) || !item.dueDates.has(month.dueDate)) {
          continue;
        }
        instalments.push({
          early: null,
          enrolmentId: student.enrolmentId,
          studentId: student.id,
          familyId: family.id,
          itemCode: item.code,
          itemDescription: item.description[school.lang],
          itemPosition: item.position,
          dueDate: month.dueDate,
          amount: item.amount(school),
          siblingNumber: student.siblingNumber,
          payers: payers[student.family] ?? [],
        });
      }
      billed += instalments.length;
      const studentRules = rules[student.index] as RuleForBilling[];
      const assembled = assembleInvoices(
        instalments,
        { schoolId: school.id, billRunId: run.id, currency: school.region.currency, language: school.lang, rulesFor: () => studentRules },
        run.totals,
      );
      book.firstInvoice[student.index * months.length + m] = book.invoices.length;
      for (const draft of assembled.invoices) {
        const ordinal = book.invoices.length;
        const amount = draft.lines.reduce((sum, line) => sum + line.amount, 0);
        book.invoices.push({
          ordinal,
          id: seededUuid(plan.key, K_INVOICE, school.index, ordinal, issuedMs),
          number: `INV-${String(ordinal + 1).padStart(6, '0')}`,
          student,
          month: m,
          draft,
          amount,
          paid: 0,
          createdMs: issuedMs,
          updatedMs: issuedMs,
          cancelledMs: 0,
          firstLine: lineOrdinal,
          familyReference: family.reference,
        });
        lineOrdinal += draft.lines.length;
      }
      run.invoices += assembled.invoiceCount;
      run.lines += assembled.lineCount;
    }
    book.runs.push(run);
  }
}

/** A time of day between 07:00 and 21:00 school time, as an offset from UTC midnight. */
export function localTime(rng: Rng, offsetMs: number): number {
  return (rng.int(7, 20) * 60 + rng.int(0, 59)) * MINUTE + rng.int(0, 59_999) - offsetMs;
}

function payMethod(rng: Rng, usual: PaymentMethod): PaymentMethod {
  return rng.chance(0.8) ? usual : METHOD_WEIGHTS.pick(rng);
}

const draftAmount = [0, 0];
const draftAt = [0, 0];
const draftMethod: PaymentMethod[] = ['card', 'card'];

/**
 * What every student's invoices were paid: the family's habit (on time, late, partial,
 * never) with some noise, only payments made by `now`, a few refunds, and a few unpaid
 * invoices cancelled. Draws come from the student's own PRNG, invoice by invoice in
 * month order, so the walk is the same in every pass.
 */
function walkPayments(plan: SeedPlan, book: SchoolBook): void {
  const { months } = plan;
  const school = book.school;
  const offsetMs = school.region.utcOffset * HOUR;
  for (const student of book.students) {
    const rng = student.rng;
    const behaviour = student.behaviour;
    const usual = student.method;
    for (let m = 0; m < months.length; m++) {
      const month = months[m] as MonthPlan;
      const first = book.firstInvoice[student.index * months.length + m] as number;
      for (let o = first; o < book.invoices.length; o++) {
        const invoice = book.invoices[o] as InvoiceRec;
        if (invoice.student !== student || invoice.month !== m) {
          break;
        }
        walkInvoice(plan, book, invoice, month, rng, behaviour, usual, offsetMs);
      }
    }
  }
}

function walkInvoice(plan: SeedPlan, book: SchoolBook, invoice: InvoiceRec, month: MonthPlan, rng: Rng, behaviour: number, usual: PaymentMethod, offsetMs: number): void {
  const nowMs = plan.nowMs;
  const amount = invoice.amount;
  const issuedMs = invoice.createdMs;
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

  let paid0 = false;
  for (let k = 0; k < drafts; k++) {
    const draftValue = draftAmount[k] as number;
    // Payments still in the future have not happened yet; nor have the ones after them.
    if (draftValue <= 0 || (draftAt[k] as number) > nowMs || draftValue > amount - invoice.paid) {
      break;
    }
    const paidMs = Math.max(draftAt[k] as number, issuedMs + MINUTE);
    const payment: PaymentRec = {
      invoice,
      index: invoice.ordinal * 2 + k,
      amount: draftValue,
      method: draftMethod[k] as PaymentMethod,
      paidMs,
      reference: rng.int(10_000_000, 99_999_999),
    };
    book.payments.push(payment);
    paid0 = true;
    invoice.paid += draftValue;
    invoice.updatedMs = Math.max(invoice.updatedMs, paidMs);
    if (rng.chance(0.012)) {
      const refundMs = paidMs + rng.int(1, 20) * DAY + rng.int(0, 600) * MINUTE;
      const full = rng.chance(0.5);
      const partial = Math.round((draftValue * (0.1 + rng.next() * 0.4)) / 100) * 100;
      const reason = rng.pick(REFUND_REASONS);
      if (refundMs <= nowMs) {
        const refund: RefundRec = { payment, amount: full ? draftValue : Math.min(draftValue, Math.max(1, partial)), createdMs: refundMs, reason };
        book.refunds.push(refund);
        invoice.paid -= refund.amount;
        invoice.updatedMs = Math.max(invoice.updatedMs, refundMs);
      }
    }
  }
  if (!paid0 && month.dueMs + 5 * DAY < nowMs && rng.chance(behaviour === 3 ? 0.2 : 0.03)) {
    const cancelledMs = month.dueMs + rng.int(5, 30) * DAY + localTime(rng, offsetMs);
    if (cancelledMs <= nowMs) {
      invoice.cancelledMs = cancelledMs;
      invoice.updatedMs = cancelledMs;
    }
  }
}

const yearFormats = new Map<string, Intl.DateTimeFormat>();
/** The calendar year of an instant in a time zone (Intl only near New Year, where the zone can change it). */
function yearIn(ms: number, timezone: string): string {
  const date = new Date(ms);
  const month = date.getUTCMonth();
  const day = date.getUTCDate();
  if (!((month === 0 && day === 1) || (month === 11 && day === 31))) {
    return String(date.getUTCFullYear());
  }
  let format = yearFormats.get(timezone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, year: 'numeric' });
    yearFormats.set(timezone, format);
  }
  return format.format(date);
}

/**
 * Every payment's receipt, numbered 1..n per school in the order the payments were made
 * (paid_at, then id), spelt as migration 0017's receipt_number() spells it: up to four
 * ASCII letters of the school's name upper-cased ('SCH' without any), the payment's year
 * in the school's time zone, the sequence (test/db/seed.test.ts compares every seeded
 * number with receipt_number()).
 */
function numberReceipts(plan: SeedPlan, book: SchoolBook): void {
  const { school } = book;
  const prefix = school.name.replace(/[^A-Za-z]/g, '').slice(0, 4).toUpperCase() || 'SCH';
  const receipts = book.payments.map((payment) => ({
    payment,
    paymentId: seededUuid(plan.key, K_PAYMENT, school.index, payment.index, payment.paidMs),
    seq: 0,
    number: '',
  }));
  receipts.sort((a, b) => a.payment.paidMs - b.payment.paidMs || (a.paymentId < b.paymentId ? -1 : a.paymentId > b.paymentId ? 1 : 0));
  receipts.forEach((receipt, i) => {
    receipt.seq = i + 1;
    receipt.number = `${prefix}-${yearIn(receipt.payment.paidMs, school.region.timezone)}-${String(i + 1).padStart(6, '0')}`;
  });
  book.receipts = receipts;
}
