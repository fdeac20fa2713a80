import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import type { FeeSchedule } from '../../src/db/types.js';

/**
 * Fee plans, enrolments, families, guardians and discount rules written straight to the
 * database (no API: those routes belong to other modules), for the bill-run tests.
 */
let sequence = 0;
const next = () => ++sequence;

export async function insertSchool(db: Db, values: { name?: string; currency?: string } = {}): Promise<string> {
  const row = await db
    .insertInto('schools')
    .values({ name: values.name ?? `Bill School ${next()}`, currency: values.currency ?? 'MXN' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertFamily(db: Db, schoolId: string, name = `Family ${next()}`): Promise<string> {
  const n = next();
  const row = await db
    .insertInto('families')
    .values({ school_id: schoolId, name, reference: `FAM-${String(n).padStart(6, '0')}-${n % 10}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertGuardian(db: Db, schoolId: string, familyId: string, firstName = `Guardian${next()}`): Promise<string> {
  const row = await db
    .insertInto('guardians')
    .values({ school_id: schoolId, family_id: familyId, first_name: firstName, last_name: 'Payer' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A student; `createdAt` orders siblings whose enrolments start the same day. */
export async function insertStudent(
  db: Db,
  schoolId: string,
  values: { familyId?: string | null; firstName?: string; createdAt?: string; isActive?: boolean } = {},
): Promise<string> {
  const row = await db
    .insertInto('students')
    .values({
      school_id: schoolId,
      first_name: values.firstName ?? `Student${next()}`,
      last_name: 'Test',
      grade: '3',
      family_id: values.familyId ?? null,
      is_active: values.isActive ?? true,
      ...(values.createdAt ? { created_at: values.createdAt } : {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface ItemSpec {
  code: string;
  description: string;
  amount: number;
  optional?: boolean;
  schedule: FeeSchedule;
}

export async function insertPlan(db: Db, schoolId: string, items: ItemSpec[], year = { start: '2026-08-01', end: '2027-07-31' }): Promise<string> {
  const plan = await db
    .insertInto('fee_plans')
    .values({ school_id: schoolId, name: `Plan ${next()}`, academic_year: '2026-2027', year_start: year.start, year_end: year.end })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('fee_plan_items')
    .values(
      items.map((item, position) => ({
        school_id: schoolId,
        fee_plan_id: plan.id,
        code: item.code,
        description: item.description,
        amount: item.amount,
        optional: item.optional ?? false,
        schedule: JSON.stringify(item.schedule),
        position,
      })),
    )
    .execute();
  return plan.id;
}

export async function insertEnrolment(
  db: Db,
  schoolId: string,
  values: { studentId: string; planId: string; from: string; to?: string | null; optionalItems?: string[]; payers?: { guardianId: string; share: number }[] },
): Promise<string> {
  const row = await db
    .insertInto('enrolments')
    .values({
      school_id: schoolId,
      student_id: values.studentId,
      fee_plan_id: values.planId,
      from_date: values.from,
      to_date: values.to ?? null,
      optional_items: values.optionalItems ?? [],
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (values.payers?.length) {
    await db
      .insertInto('enrolment_payers')
      .values(values.payers.map((p, position) => ({ school_id: schoolId, enrolment_id: row.id, guardian_id: p.guardianId, share: p.share, position })))
      .execute();
  }
  return row.id;
}

export async function insertRule(
  db: Db,
  schoolId: string,
  values: {
    kind: 'sibling' | 'staff' | 'scholarship' | 'custom';
    basis: 'percent' | 'fixed';
    value: number;
    name?: string;
    itemCodes?: string[] | null;
    fromSiblingNumber?: number | null;
    cap?: number | null;
    stacking?: 'stack' | 'best_only';
    validFrom?: string | null;
    validTo?: string | null;
  },
): Promise<string> {
  const row = await db
    .insertInto('discount_rules')
    .values({
      school_id: schoolId,
      name: values.name ?? `${values.kind} discount`,
      kind: values.kind,
      basis: values.basis,
      value: values.value,
      item_codes: values.itemCodes ?? null,
      from_sibling_number: values.fromSiblingNumber ?? null,
      cap: values.cap ?? null,
      stacking: values.stacking ?? 'stack',
      valid_from: values.validFrom ?? null,
      valid_to: values.validTo ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertAward(db: Db, schoolId: string, studentId: string, ruleId: string, revoked = false): Promise<string> {
  const row = await db
    .insertInto('awards')
    .values({ school_id: schoolId, student_id: studentId, rule_id: ruleId, reason: 'test award', ...(revoked ? { revoked_at: sql<Date>`now()` } : {}) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Family credit as if a family payment had left it (test set-up only; the ledger owns this figure). */
export async function setFamilyCredit(db: Db, schoolId: string, familyId: string, amount: number): Promise<void> {
  await db.updateTable('families').set({ credit_balance: amount }).where('school_id', '=', schoolId).where('id', '=', familyId).execute();
}

/** Ten monthly instalments from September 2026. */
export const TEN_MONTHS: FeeSchedule = { kind: 'monthly', firstDue: '2026-09-05', count: 10 };

/**
 * A school of `students` students in families of up to three (every third student
 * alone), one plan of tuition (monthly × `instalments`) and an optional transport item
 * chosen by every second student, a 10 % sibling rule from the second child and a
 * 50 % scholarship awarded to every seventh student. Set-based inserts (generate_series).
 */
export async function insertBulkSchool(db: Db, options: { students: number; instalments: number }): Promise<{ schoolId: string; planId: string }> {
  const schoolId = await insertSchool(db, { name: `Bulk School ${next()}` });
  const planId = await insertPlan(db, schoolId, [
    { code: 'tuition', description: 'Tuition', amount: 350_000, schedule: { kind: 'monthly', firstDue: '2026-09-05', count: options.instalments } },
    { code: 'transport', description: 'Transport', amount: 80_001, optional: true, schedule: { kind: 'monthly', firstDue: '2026-09-05', count: options.instalments } },
  ]);
  const families = Math.ceil(options.students / 3);
  await sql`
    insert into families (school_id, name, reference)
    select ${schoolId}::uuid, 'Bulk family ' || g, 'BLK-' || lpad(g::text, 6, '0') || '-' || (g % 10)
      from generate_series(1, ${families}::int) g`.execute(db);
  await sql`
    with fams as (select id, row_number() over (order by id) as n from families where school_id = ${schoolId}::uuid)
    insert into students (school_id, first_name, last_name, grade, family_id, created_at)
    select ${schoolId}::uuid, 'Bulk' || g, 'Student', '3',
           case when g % 3 = 0 then null else (select id from fams where fams.n = 1 + (g % ${families}::int)) end,
           now() - make_interval(secs => ${options.students}::int - g)
      from generate_series(1, ${options.students}::int) g`.execute(db);
  await sql`
    insert into enrolments (school_id, student_id, fee_plan_id, from_date, optional_items)
    select ${schoolId}::uuid, s.id, ${planId}::uuid, date '2026-08-01' + (row_number() over (order by s.created_at) % 5)::int,
           case when row_number() over (order by s.created_at) % 2 = 0 then array['transport'] else '{}'::text[] end
      from students s where s.school_id = ${schoolId}::uuid`.execute(db);
  await insertRule(db, schoolId, { kind: 'sibling', basis: 'percent', value: 1000, name: 'Sibling 10 %', itemCodes: ['tuition'] });
  const scholarship = await insertRule(db, schoolId, { kind: 'scholarship', basis: 'percent', value: 5000, name: 'Scholarship 50 %' });
  await sql`
    insert into awards (school_id, student_id, rule_id, reason)
    select ${schoolId}::uuid, s.id, ${scholarship}::uuid, 'merit'
      from (select id, row_number() over (order by created_at) as n from students where school_id = ${schoolId}::uuid) s
     where s.n % 7 = 0`.execute(db);
  return { schoolId, planId };
}
