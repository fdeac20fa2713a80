import { sql } from 'kysely';
import { hashPassword } from '../modules/auth/passwords.js';
import { createUsersRepository } from '../modules/auth/users.repository.js';
import { createInvoicesRepository } from '../modules/billing/invoices.repository.js';
import { createStudentsRepository } from '../modules/billing/students.repository.js';
import { createBillRunEngine } from '../modules/billruns/billruns.engine.js';
import { createBillRunsRepository } from '../modules/billruns/billruns.repository.js';
import { createDiscountsRepository } from '../modules/discounts/discounts.repository.js';
import { createFamiliesRepository } from '../modules/families/families.repository.js';
import { holdFamilyForStudent } from '../modules/families/membership.js';
import { formatReference, schoolPrefix } from '../modules/families/reference.js';
import { createFamilyPaymentsRepository } from '../modules/familypayments/familypayments.repository.js';
import { createEnrolmentsRepository } from '../modules/feeplans/enrolments.repository.js';
import { createFeePlansRepository, type FeePlanItemValues } from '../modules/feeplans/feeplans.repository.js';
import { scheduleErrors } from '../modules/feeplans/schedule.js';
import { postCreditNote, postPayment } from '../modules/ledger/ledger.js';
import { addDays } from '../modules/assistant/format.js';
import { sendReminders } from '../modules/collections/reminders.js';
import { todayIn } from '../shared/time.js';
import {
  addMonths,
  behaviourAt,
  DAY_MS,
  dueDateOf,
  issueTimeOf,
  monthOf,
  monthsIssuedBy,
  paymentPlan,
  planKey,
  unitOf,
  type Behaviour,
} from '../modules/simulator/demo-plan.js';
import type { Db, DbOrTx, Tx } from './database.js';
import type { PaymentMethod, ReminderChannel, ReminderStep, ReminderTemplate, Role } from './types.js';

/**
 * The small demo data set created on first start: three demo schools in three
 * currencies, time zones and two languages, a hundred students each in families
 * (siblings, some with two paying guardians), a fee plan per school (monthly tuition, an
 * enrolment fee, an optional school bus), sibling and scholarship discounts, the year so
 * far billed by bill runs, payments of every behaviour (on time, late, partial, never;
 * some families by family payment), failed card attempts, a few credit notes, and the
 * four demo users. It is deterministic (fixed PRNG seed) apart from dates, which are
 * relative to `now`. Runs once per database (see seedDemoData).
 */
export const DEMO_USERS: readonly { username: string; role: Role; schools: 'first-two' | 'none' }[] = [
  { username: 'super.admin', role: 'super_admin', schools: 'none' },
  { username: 'school.admin', role: 'school_admin', schools: 'first-two' },
  { username: 'finance.analyst', role: 'finance_analyst', schools: 'none' },
  { username: 'developer', role: 'developer', schools: 'none' },
];

const step = (offsetDays: number, channel: ReminderChannel, template: ReminderTemplate): ReminderStep => ({ offsetDays, channel, template });

const SCHOOLS = [
  { name: 'Colegio Miraflores', currency: 'MXN', timezone: 'America/Mexico_City', fee: 450_000, phone: '+52 55 5550 1200', email: 'cobranza@miraflores.example.mx', address: 'Av. Reforma 120, CDMX', language: 'es', phonePrefix: '+52 55 5', mailDomain: 'correo.example.mx', lateFee: { kind: 'fixed', value: 25_000, grace_days: 5, cap: null },
    reminders: [step(-3, 'email', 'upcoming'), step(0, 'whatsapp', 'due'), step(7, 'email', 'overdue'), step(20, 'whatsapp', 'final_notice')] },
  { name: 'Instituto Andino', currency: 'COP', timezone: 'America/Bogota', fee: 85_000_000, phone: '+57 601 555 0100', email: 'tesoreria@andino.example.co', address: 'Calle 72 #10-34, Bogotá', language: 'es', phonePrefix: '+57 310 5', mailDomain: 'correo.example.co', lateFee: { kind: 'daily_interest', value: 0.1, grace_days: 3, cap: 5_000_000 },
    reminders: [step(-5, 'email', 'upcoming'), step(1, 'sms', 'overdue'), step(10, 'email', 'overdue'), step(30, 'email', 'final_notice')] },
  { name: 'Lincoln Bilingual School', currency: 'USD', timezone: 'America/New_York', fee: 120_000, phone: '+1 212 555 0147', email: 'bursar@lincoln.example.org', address: '41 Park Ave, New York', language: 'en', phonePrefix: '+1 917 55', mailDomain: 'mail.example.com', lateFee: { kind: 'percent', value: 2, grace_days: 10, cap: 5_000 },
    reminders: [step(-7, 'email', 'upcoming'), step(0, 'sms', 'due'), step(10, 'email', 'overdue'), step(25, 'email', 'final_notice')] },
] as const;

/** Names in the school's language: Spanish (two surnames) for Mexico and Colombia, English for the US school. */
const NAMES = {
  es: {
    children: ['Sofía', 'Mateo', 'Valentina', 'Santiago', 'Camila', 'Sebastián', 'Isabella', 'Diego', 'Regina', 'Emiliano', 'Ximena', 'Leonardo', 'Mía', 'Nicolás', 'Renata', 'Tomás', 'Mariana', 'Samuel', 'Lucía', 'Martín'],
    mothers: ['María', 'Guadalupe', 'Adriana', 'Claudia', 'Verónica', 'Paola', 'Carolina', 'Daniela', 'Alejandra', 'Gabriela'],
    fathers: ['José', 'Juan Carlos', 'Alejandro', 'Miguel', 'Andrés', 'Felipe', 'Ricardo', 'Jorge', 'Luis', 'Fernando'],
    surnames: ['García', 'Rodríguez', 'Martínez', 'López', 'Hernández', 'Pérez', 'González', 'Sánchez', 'Gómez', 'Díaz', 'Torres', 'Ramírez', 'Flores', 'Castro', 'Vargas', 'Rojas', 'Morales', 'Ortiz'],
    mother: 'madre',
    father: 'padre',
    plan: 'Plan de cuotas',
    tuition: 'Colegiatura',
    enrolment: 'Inscripción',
    transport: 'Transporte escolar',
    sibling: 'Descuento por hermanos',
    scholarship: 'Beca académica',
    reasons: ['Promedio de excelencia del ciclo anterior', 'Beca deportiva: selección de fútbol', 'Apoyo socioeconómico aprobado por el comité', 'Hijo de exalumno, beca del patronato'],
    creditNote: 'Ajuste por días sin servicio de la escuela',
  },
  en: {
    children: ['Emma', 'Liam', 'Olivia', 'Noah', 'Ava', 'Ethan', 'Sophia', 'Lucas', 'Charlotte', 'Mason', 'Amelia', 'Logan', 'Harper', 'James', 'Ella', 'Henry', 'Grace', 'Jack', 'Chloe', 'Owen'],
    mothers: ['Jennifer', 'Sarah', 'Jessica', 'Emily', 'Rachel', 'Laura', 'Megan', 'Amanda', 'Rebecca', 'Nicole'],
    fathers: ['Michael', 'David', 'Christopher', 'Daniel', 'Matthew', 'Andrew', 'Ryan', 'Brian', 'Kevin', 'Thomas'],
    surnames: ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Miller', 'Davis', 'Wilson', 'Anderson', 'Taylor', 'Thomas', 'Moore', 'Martin', 'Thompson', 'White', 'Harris', 'Clark', 'Lewis'],
    mother: 'mother',
    father: 'father',
    plan: 'Fee plan',
    tuition: 'Tuition',
    enrolment: 'Enrollment fee',
    transport: 'School bus',
    sibling: 'Sibling discount',
    scholarship: 'Academic scholarship',
    reasons: ['Honor roll, previous school year', 'Athletic scholarship: varsity soccer', 'Financial aid approved by the committee', 'Alumni foundation award'],
    creditNote: 'Adjustment for school closure days',
  },
} as const;

const GRADES = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
const METHODS: PaymentMethod[] = ['card', 'card', 'bank_transfer', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet'];
const FAILURES = [
  ['card_declined', 'The card was declined by the issuer'],
  ['insufficient_funds', 'Insufficient funds'],
  ['expired_card', 'The card has expired'],
  ['processing_error', 'The gateway could not process the payment'],
] as const;
/**
 * Students per demo school. The simulator's traffic follows these families (a payment
 * when a plan says so, about 1.2 a student and month), so the demo needs enough of them
 * for the Live page to move: 100 per school give about a dozen payments a day across
 * the three schools, and seeding them still takes a moment.
 */
export const STUDENTS_PER_SCHOOL = 100;
/** Months of history before the current one; the months already issued by now follow. */
export const PAST_MONTHS = 4;
/** Monthly instalments of the demo's fee plan (tuition, transport): the year starts PAST_MONTHS before the seed. */
export const PLAN_MONTHS = 12;
/** Schools "opened" this long before the seed (before every enrolment and bill). */
const SCHOOL_AGE_DAYS = 1_200;
/** Codes of the demo fee plan's items. */
export const DEMO_ITEMS = { tuition: 'tuition', enrolment: 'enrolment', transport: 'transport' } as const;
/** Sibling discount: from the second child of a family on, this share of tuition (basis points). */
const SIBLING_BP = 1_000;
/** Scholarship: this share of tuition (basis points), awarded to SCHOLARSHIPS students per school. */
const SCHOLARSHIP_BP = 2_500;
const SCHOLARSHIPS = 4;
/** Credit notes per school (a fee correction on an open bill of the oldest month). */
const CREDIT_NOTES = 3;

/** mulberry32: tiny deterministic PRNG. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T };
}

async function isSeeded(db: DbOrTx): Promise<boolean> {
  const marker = await db.selectFrom('app_meta').select('key').where('key', '=', 'demo_seeded_at').executeTakeFirst();
  return marker !== undefined;
}

const day = (date: Date) => date.toISOString().slice(0, 10);

export interface DemoSeedOptions {
  password: string;
  /** "Today" for the data set (default: the system time); tests seed as of another day. */
  now?: Date;
  /** The base of the pay links in the demo's reminders (PUBLIC_URL). */
  publicUrl?: string;
}

/** Days of past reminders the demo starts with (the outbox is not empty on first start). */
const DEMO_REMINDER_DAYS = 21;

type School = (typeof SCHOOLS)[number];

interface DemoStudent {
  id: string;
  behaviour: Behaviour;
  familyIndex: number;
}

interface DemoFamily {
  id: string;
  students: string[];
  guardians: string[];
  /** Two guardians paying every bill by share: the bill run makes one invoice per payer. */
  twoPayers: boolean;
  /** Pays each month's bills of all its children in one family payment (one receipt). */
  paysAsFamily: boolean;
  behaviour: Behaviour;
}

/** Children per family, cycling: mostly one or two, now and then three. */
const FAMILY_SIZES = [1, 2, 1, 3, 2, 1, 1, 2, 1, 2, 3, 1];

/**
 * Seeds the demo once per database (see above). Every row is demo data: its schools are
 * marked `is_demo`, its students get a stable payment behaviour (demo_students), and
 * each school's transaction declares itself the demo's so its invoices stay unmarked by
 * the touched-by-person trigger — what the simulator continues from.
 *
 * Per school, in one transaction, through the modules' own repositories and the ledger:
 * families (siblings; about one in six with two guardians paying by share), guardians
 * with names, e-mails and phones in the school's language, a fee plan (monthly tuition,
 * an enrolment fee, an optional school bus for some children), a sibling discount rule
 * and a scholarship rule with a few awards, every child enrolled; then the year billed
 * by bill runs (the billruns engine), one per month as the months were issued, so every
 * invoice has its bill run, its lines, billing keys and discounts; then the families'
 * payments by the shared payment plans (src/modules/simulator/demo-plan.ts) up to `now`
 * — some families paying all their children's bills by one family payment (allocated
 * oldest first, one receipt) — declined cards, and a few credit notes.
 *
 * Dates: business dates (when a bill was issued, paid, attempted) are the story's, never
 * after `now`; the ledger stamps its own rows (payments, receipts, credit notes) with the
 * time it wrote them, as it does for every writer. Invoices, bill runs and gateway
 * transactions carry the story's dates (set after they are written, in the same
 * transaction), so the Live page and the dashboard read the history as history.
 * A school already seeded (a start interrupted after it) is skipped; the marker in
 * app_meta is written last, with the demo users.
 */
export async function seedDemoData(db: Db, options: DemoSeedOptions): Promise<boolean> {
  if (await isSeeded(db)) {
    return false; // the common case on every restart: skip the password hashing below
  }
  const passwordHashes = await Promise.all(DEMO_USERS.map(() => hashPassword(options.password)));
  const users = createUsersRepository();
  const now = options.now ?? new Date();
  const random = prng(20_260_901);
  const schoolIds: string[] = [];
  for (const school of SCHOOLS) {
    const id = await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('bursar:seed-demo'))`.execute(trx);
      if (await isSeeded(trx)) {
        return null;
      }
      const existing = await trx.selectFrom('schools').select('id').where('name', '=', school.name).where('is_demo', '=', true).where('deleted_at', 'is', null).executeTakeFirst();
      return existing?.id ?? (await seedSchool(trx, school, now, random, options.publicUrl ?? 'http://localhost:3000'));
    });
    if (id === null) {
      return false;
    }
    schoolIds.push(id);
  }
  const seeded = await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('bursar:seed-demo'))`.execute(trx);
    if (await isSeeded(trx)) {
      return false;
    }
    for (const [index, user] of DEMO_USERS.entries()) {
      const userId = await users.insert(trx, { username: user.username, passwordHash: passwordHashes[index] ?? '', role: user.role });
      await users.replaceSchools(trx, userId, user.schools === 'first-two' ? schoolIds.slice(0, 2) : []);
    }
    await trx.insertInto('app_meta').values({ key: 'demo_seeded_at', value: JSON.stringify(now.toISOString()) }).execute();
    return true;
  });
  // Statistics now rather than at autovacuum's next pass, so what runs next (the
  // simulator, a first page) is planned for the rows that are there.
  await sql`analyze ${sql.raw(SEEDED_TABLES)}, payments, transactions, receipts, family_payments, invoice_adjustments, payment_rollups, payment_totals, messages`.execute(db);
  return seeded;
}

const unaccent = (text: string) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9.]+/g, '');

/** The tables a demo school's setup and bill runs fill, analyzed before its payments (see seedSchool). */
const SEEDED_TABLES = 'families, guardians, students, enrolments, enrolment_payers, awards, bill_runs, invoices, invoice_lines, invoice_rollups, invoice_totals, ledger_entries, credit_applications';

/** One demo school and its year, in the caller's transaction (see seedDemoData). */
async function seedSchool(trx: Tx, school: School, now: Date, random: ReturnType<typeof prng>, publicUrl: string): Promise<string> {
  const invoices = createInvoicesRepository();
  const students = createStudentsRepository();
  const families = createFamiliesRepository();
  const feePlans = createFeePlansRepository();
  const enrolments = createEnrolmentsRepository();
  const discounts = createDiscountsRepository();
  const billRuns = createBillRunsRepository();
  const engine = createBillRunEngine(billRuns);
  const familyPayments = createFamilyPaymentsRepository();
  await invoices.declareDemoWriter(trx);
  const names = NAMES[school.language];
  const nowMs = now.getTime();
  /** Every business date this seed writes goes through here: nothing dated after `now`. */
  const past = (ms: number, what: string): Date => {
    if (!Number.isFinite(ms) || ms > nowMs) {
      throw new Error(`demo seed: ${what} would be dated ${new Date(ms).toISOString()}, after now (${now.toISOString()})`);
    }
    return new Date(ms);
  };
  const firstMonth = addMonths(monthOf(day(now)), -PAST_MONTHS);
  const months = monthsIssuedBy(nowMs, firstMonth);

  const opened = past(nowMs - SCHOOL_AGE_DAYS * DAY_MS, 'a school');
  const { id: schoolId } = await trx
    .insertInto('schools')
    .values({ name: school.name, currency: school.currency, timezone: school.timezone, language: school.language, phone: school.phone, email: school.email, address: school.address, is_demo: true, created_at: opened, updated_at: opened })
    .returning('id')
    .executeTakeFirstOrThrow();

  // The fee plan: a year of monthly tuition from the first month of the history, an enrolment fee with the first bill, an optional school bus.
  const yearStart = firstMonth;
  const yearEnd = day(new Date(Date.parse(`${addMonths(firstMonth, PLAN_MONTHS)}T00:00:00Z`) - DAY_MS));
  const academicYear = `${yearStart.slice(0, 4)}–${yearEnd.slice(0, 4)}`;
  const items: FeePlanItemValues[] = [
    { code: DEMO_ITEMS.tuition, description: names.tuition, amount: school.fee, schedule: { kind: 'monthly', firstDue: dueDateOf(firstMonth), count: PLAN_MONTHS } },
    { code: DEMO_ITEMS.enrolment, description: names.enrolment, amount: Math.round(school.fee * 0.8), schedule: { kind: 'once', dueDate: dueDateOf(firstMonth) } },
    { code: DEMO_ITEMS.transport, description: names.transport, amount: Math.round(school.fee * 0.18), optional: true, schedule: { kind: 'monthly', firstDue: dueDateOf(firstMonth), count: PLAN_MONTHS } },
  ];
  for (const item of items) {
    const errors = scheduleErrors(item.schedule, { start: yearStart, end: yearEnd });
    if (errors.length > 0) {
      throw new Error(`demo seed: the ${item.code} schedule is not sound: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`);
    }
  }
  const feePlanId = await feePlans.insert(trx, { schoolId, name: `${names.plan} ${academicYear}`, academicYear, yearStart, yearEnd });
  await feePlans.saveItems(trx, { schoolId, id: feePlanId }, items);

  // Discounts: siblings from the second child on (by themselves), a scholarship by award.
  const rule = { itemCodes: [DEMO_ITEMS.tuition], cap: null, stacking: 'stack' as const, validFrom: null, validTo: null, isActive: true };
  await discounts.insertRule(trx, schoolId, { ...rule, name: names.sibling, kind: 'sibling', basis: 'percent', value: SIBLING_BP, fromSiblingNumber: 2 });
  const scholarshipId = await discounts.insertRule(trx, schoolId, { ...rule, name: names.scholarship, kind: 'scholarship', basis: 'percent', value: SCHOLARSHIP_BP, fromSiblingNumber: null });

  // Late fees (SPEC §8): the daily run of `npm start` charges them on overdue demo bills.
  await trx.insertInto('late_fee_policies').values({ school_id: schoolId, ...school.lateFee, updated_by: null }).execute();
  // Reminders (SPEC §8): with no SMTP or SMS provider configured, they fill the outbox.
  await trx.insertInto('reminder_policies').values({ school_id: schoolId, steps: JSON.stringify(school.reminders), updated_by: null }).execute();

  // Families, their guardians and children, each child enrolled in the plan.
  const demoFamilies: DemoFamily[] = [];
  const demoStudents: DemoStudent[] = [];
  for (let f = 0; demoStudents.length < STUDENTS_PER_SCHOOL; f++) {
    const size = Math.min(FAMILY_SIZES[f % FAMILY_SIZES.length] ?? 1, STUDENTS_PER_SCHOOL - demoStudents.length);
    const surname = random.pick(names.surnames);
    const second = random.pick(names.surnames);
    const lastName = school.language === 'es' ? `${surname} ${second}` : surname;
    const number = await families.nextNumber(trx, schoolId);
    const familyId = await families.insert(trx, { schoolId, name: school.language === 'es' ? `Familia ${lastName}` : `${lastName} family`, reference: formatReference(schoolPrefix(school.name), number), preferredLanguage: school.language });
    // About one family in six has both parents paying by share (a separated couple, say); every family has a mother and most a father on file.
    const twoPayers = f % 6 === 3;
    const guardians: string[] = [];
    const parents = twoPayers || f % 3 !== 1 ? 2 : 1;
    for (let g = 0; g < parents; g++) {
      const mother = g === 0;
      const firstName = random.pick(mother ? names.mothers : names.fathers);
      // Mothers keep their own surname in Spanish-speaking countries.
      const guardianLast = school.language === 'es' ? (mother ? `${second} ${random.pick(names.surnames)}` : lastName) : lastName;
      guardians.push(
        await families.insertGuardian(trx, schoolId, familyId, {
          firstName,
          lastName: guardianLast,
          email: `${unaccent(firstName.split(' ')[0] ?? firstName)}.${unaccent(guardianLast.split(' ')[0] ?? guardianLast)}${f}@${school.mailDomain}`,
          phone: `${school.phonePrefix}${String(5_550_000 + f * 7 + g).slice(-6, -4)} ${String(1000 + ((f * 37 + g * 11) % 9000)).slice(-4)}`,
          relationship: mother ? names.mother : names.father,
          preferredLanguage: school.language,
          isPrimary: mother,
        }),
      );
    }
    const behaviour = behaviourAt(f);
    const family: DemoFamily = { id: familyId, students: [], guardians, twoPayers, paysAsFamily: size > 1 && !twoPayers && behaviour === 'on_time', behaviour };
    for (let c = 0; c < size; c++) {
      const firstName = random.pick(names.children);
      const enrolled = past(nowMs - (400 + Math.floor(random.next() * 700)) * DAY_MS, 'an enrolment');
      await holdFamilyForStudent(trx, schoolId, familyId);
      const studentId = await students.insert(trx, schoolId, {
        firstName,
        lastName,
        email: null,
        grade: random.pick(GRADES),
        enrolledAt: day(enrolled),
        familyId,
      });
      await trx.insertInto('demo_students').values({ school_id: schoolId, student_id: studentId, behaviour }).execute();
      await enrolments.insert(trx, {
        schoolId,
        studentId,
        feePlanId,
        from: yearStart,
        to: null,
        // About a third of the children take the school bus.
        optionalItems: random.next() < 0.33 ? [DEMO_ITEMS.transport] : [],
        payers: twoPayers ? guardians.map((guardianId, g) => ({ guardianId, share: g === 0 ? '0.600000' : '0.400000' })) : [],
      });
      family.students.push(studentId);
      demoStudents.push({ id: studentId, behaviour, familyIndex: demoFamilies.length });
    }
    demoFamilies.push(family);
  }
  // The students' own dates are the story's (when they joined the school).
  await sql`update students set created_at = enrolled_at::timestamptz, updated_at = enrolled_at::timestamptz where school_id = ${schoolId}`.execute(trx);

  // A few scholarships, each with its reason.
  for (let a = 0; a < SCHOLARSHIPS; a++) {
    const student = demoStudents[5 + a * 17];
    if (student !== undefined) {
      await discounts.insertAward(trx, { schoolId, studentId: student.id, ruleId: scholarshipId, reason: names.reasons[a % names.reasons.length] ?? names.scholarship, createdBy: null });
    }
  }

  // The year so far, billed month by month by bill runs as each month was issued (numbers follow the issue order).
  const runSchool = await billRuns.findSchool(trx, { schoolIds: [schoolId], pii: 'clear' }, schoolId);
  if (runSchool === undefined) {
    throw new Error('demo seed: the school it just created is not found');
  }
  for (const month of months) {
    const issuedAt = past(Math.min(issueTimeOf(month), nowMs), 'a bill run');
    const run = await engine.runInline(trx, await engine.context(trx, runSchool, dueDateOf(month)), { requestedBy: null, actor: null });
    await sql`update invoices set created_at = ${issuedAt}, updated_at = ${issuedAt} where school_id = ${schoolId} and bill_run_id = ${run.id}`.execute(trx);
    await sql`update bill_runs set created_at = ${issuedAt}, started_at = ${issuedAt}, finished_at = ${issuedAt} where school_id = ${schoolId} and id = ${run.id}`.execute(trx);
  }

  // The school's rows so far were written in this transaction, where autovacuum cannot
  // see them: without statistics the planner takes these tables for empty and the
  // payments below cost four times as much (whole demo seed: 28 s → 11 s).
  await sql`analyze ${sql.raw(SEEDED_TABLES)}`.execute(trx);

  // What each bill's plan says is paid by now, and the declined cards, in the order they happened.
  const bills = await trx
    .selectFrom('invoices')
    .select(['id', 'student_id as studentId', 'amount', 'due_date as dueDate', 'created_at as createdAt'])
    .where('school_id', '=', schoolId)
    .orderBy('due_date')
    .orderBy('number')
    .execute();
  const byStudent = new Map(demoStudents.map((s) => [s.id, s]));
  type Event = { at: number; order: number; write: () => Promise<void> };
  const events: Event[] = [];
  const familyMonths = new Map<string, { family: DemoFamily; dueDate: string; at: number }>();
  for (const bill of bills) {
    const student = byStudent.get(bill.studentId);
    if (student === undefined) {
      continue;
    }
    const family = demoFamilies[student.familyIndex];
    const key = planKey(bill.studentId, bill.dueDate);
    const issuedAt = bill.createdAt.getTime();
    const paid = paymentPlan(student.behaviour, key, bill.dueDate, bill.amount).filter((step) => step.at <= nowMs);
    if (family?.paysAsFamily === true) {
      // One family payment a month for all the children's bills, when the first of them comes due (as the simulator does).
      const step = paid[0];
      if (step !== undefined) {
        const familyKey = `${family.id}:${bill.dueDate}`;
        const at = Math.max(step.at, issuedAt);
        const seen = familyMonths.get(familyKey);
        familyMonths.set(familyKey, { family, dueDate: bill.dueDate, at: seen === undefined ? at : Math.min(seen.at, at) });
      }
      continue;
    }
    // A declined card the day before the due date, for some of the families that struggle.
    if ((student.behaviour === 'never' || student.behaviour === 'late') && unitOf(`${key}:declined`) < 0.35) {
      const at = Math.min(Date.parse(`${bill.dueDate}T12:00:00Z`) - DAY_MS, nowMs - 3_600_000);
      if (at >= issuedAt) {
        const [code, message] = random.pick(FAILURES);
        events.push({
          at,
          order: events.length,
          write: async () => {
            await trx
              .insertInto('transactions')
              .values({ school_id: schoolId, invoice_id: bill.id, amount: bill.amount, method: 'card', status: 'failed', failure_code: code, failure_message: message, gateway: 'demo-gateway', created_at: past(at, 'a failed attempt') })
              .execute();
          },
        });
      }
    }
    let before = 0;
    for (const step of paid) {
      const amount = step.paidUpTo - before;
      before = step.paidUpTo;
      if (amount <= 0) {
        continue;
      }
      const at = Math.max(step.at, issuedAt);
      const method = random.pick(METHODS);
      const reference = `DEMO-${Math.floor(random.next() * 1e8)}`;
      events.push({
        at,
        order: events.length,
        write: async () => {
          await postPayment(trx, { schoolId, invoiceId: bill.id, amount, method, reference, paidAt: past(at, 'a payment'), createdBy: null });
        },
      });
    }
  }
  for (const { family, dueDate, at } of familyMonths.values()) {
    events.push({
      at,
      order: events.length,
      write: async () => {
        // Everything the family owes up to this month, allocated oldest first (the family payments module's rule).
        const open = await familyPayments.lockOpenInvoices(trx, { schoolId, id: family.id });
        const amount = open.filter((invoice) => invoice.dueDate <= dueDate).reduce((sum, invoice) => sum + Number(invoice.open), 0);
        if (amount <= 0) {
          return;
        }
        // The family payments module's own call (record_family_payment): no caller, no Idempotency-Key.
        const method = random.pick(METHODS);
        const reference = `DEMO-F-${Math.floor(random.next() * 1e8)}`;
        await familyPayments.record(trx, {
          user: null,
          requestId: null,
          idempotency: null,
          schoolIds: [schoolId],
          familyId: family.id,
          amount,
          method,
          reference,
          paidAt: past(at, 'a family payment'),
          paidAtGiven: false,
          window: '366 days',
          payerGuardianId: null,
          demo: false,
        });
      },
    });
  }
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  for (const event of events) {
    await event.write();
  }

  // A few credit notes: a fee correction on open bills of the oldest month.
  const open = await trx
    .selectFrom('invoices')
    .select(['id', 'amount', 'paid_amount as paidAmount'])
    .where('school_id', '=', schoolId)
    .where('due_date', '=', dueDateOf(firstMonth))
    .where(sql<boolean>`paid_amount < amount`)
    .orderBy('number')
    .limit(CREDIT_NOTES)
    .execute();
  for (const invoice of open) {
    const amount = Math.min(Math.round(school.fee * 0.1), invoice.amount - invoice.paidAmount);
    if (amount > 0) {
      await postCreditNote(trx, { schoolId, invoiceId: invoice.id, amount, reason: names.creditNote, createdBy: null });
    }
  }

  // Gateway transactions and the bills' last change carry the story's dates.
  await sql`
    update transactions t set created_at = p.paid_at
      from payments p
     where t.school_id = ${schoolId} and p.school_id = t.school_id and p.id = t.payment_id and t.status = 'succeeded'`.execute(trx);
  await sql`
    update invoices i set updated_at = greatest(i.created_at, coalesce((select max(p.paid_at) from payments p where p.school_id = i.school_id and p.invoice_id = i.id), i.created_at))
     where i.school_id = ${schoolId}`.execute(trx);

  // The last weeks' reminders, as the daily run would have written them: with no channel
  // configured they wait in the outbox, so the demo's outbox and delivery logs show them.
  const today = todayIn(school.timezone, now);
  for (let back = DEMO_REMINDER_DAYS; back >= 1; back--) {
    await sendReminders(trx, schoolId, addDays(today, -back), { sending: new Set(), publicUrl });
  }
  return schoolId;
}
