import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/database.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

/**
 * A small school world for fee plan, enrolment and discount tests, written straight to
 * the database: school A (students of grades 3 and 5, one inactive, a family of two
 * guardians with two children, another family) and school B; one client per role
 * (school_admin assigned to A only).
 */
export interface PlansWorld {
  t: TestApp;
  schoolA: string;
  schoolB: string;
  students: { ana: string; beto: string; caro: string; dani: string; inactive: string; other: string };
  families: { mora: string; rios: string };
  guardians: { mother: string; father: string; stranger: string };
  as: { root: Client; admin: Client; analyst: Client; developer: Client; anonymous: Client };
  userIds: { root: string; admin: string };
}

let counter = 0;

export async function insertFamily(db: Db, schoolId: string, name: string): Promise<string> {
  counter++;
  const reference = `FAM-${String(counter).padStart(6, '0')}-${counter % 10}`;
  return (await db.insertInto('families').values({ school_id: schoolId, name, reference }).returning('id').executeTakeFirstOrThrow()).id;
}

export async function insertGuardian(db: Db, schoolId: string, familyId: string, firstName: string): Promise<string> {
  return (
    await db.insertInto('guardians').values({ school_id: schoolId, family_id: familyId, first_name: firstName, last_name: 'Mora' }).returning('id').executeTakeFirstOrThrow()
  ).id;
}

export async function insertStudent(db: Db, schoolId: string, firstName: string, grade: string, options: { familyId?: string | null; isActive?: boolean } = {}): Promise<string> {
  return (
    await db
      .insertInto('students')
      .values({ school_id: schoolId, first_name: firstName, last_name: 'Test', grade, family_id: options.familyId ?? null, is_active: options.isActive ?? true })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
}

export async function createPlansWorld(): Promise<PlansWorld> {
  const t = await createTestApp();
  const db = t.db;
  const schoolA = (await db.insertInto('schools').values({ name: 'Colegio Mora' }).returning('id').executeTakeFirstOrThrow()).id;
  const schoolB = (await db.insertInto('schools').values({ name: 'Beta School' }).returning('id').executeTakeFirstOrThrow()).id;
  const mora = await insertFamily(db, schoolA, 'Mora');
  const rios = await insertFamily(db, schoolA, 'Ríos');
  const mother = await insertGuardian(db, schoolA, mora, 'Marta');
  const father = await insertGuardian(db, schoolA, mora, 'Mario');
  const stranger = await insertGuardian(db, schoolA, rios, 'Rita');
  const ana = await insertStudent(db, schoolA, 'Ana', '3', { familyId: mora });
  const beto = await insertStudent(db, schoolA, 'Beto', '3', { familyId: mora });
  const caro = await insertStudent(db, schoolA, 'Caro', '5', { familyId: rios });
  const dani = await insertStudent(db, schoolA, 'Dani', '3');
  const inactive = await insertStudent(db, schoolA, 'Ines', '3', { isActive: false });
  const other = await insertStudent(db, schoolB, 'Otto', '3');

  const root = await insertUser(db, { username: 'plans.root', role: 'super_admin' });
  const admin = await insertUser(db, { username: 'plans.admin', role: 'school_admin', schoolIds: [schoolA] });
  await insertUser(db, { username: 'plans.analyst', role: 'finance_analyst' });
  await insertUser(db, { username: 'plans.dev', role: 'developer' });
  const token = async (username: string) => (await login(t.app, username)).accessToken;
  return {
    t,
    schoolA,
    schoolB,
    students: { ana, beto, caro, dani, inactive, other },
    families: { mora, rios },
    guardians: { mother, father, stranger },
    as: {
      root: client(t.app, await token('plans.root')),
      admin: client(t.app, await token('plans.admin')),
      analyst: client(t.app, await token('plans.analyst')),
      developer: client(t.app, await token('plans.dev')),
      anonymous: client(t.app, null),
    },
    userIds: { root, admin },
  };
}

/** A plan body for school year 2026-08-01 … 2027-07-31: monthly tuition (10), enrolment fee once, optional transport (termly). */
export function planBody(schoolId: string, over: Record<string, unknown> = {}) {
  return {
    schoolId,
    name: 'Primaria 2026-2027',
    academicYear: '2026-2027',
    yearStart: '2026-08-01',
    yearEnd: '2027-07-31',
    items: [
      { code: 'TUITION', description: 'Colegiatura', amount: 350_000, schedule: { kind: 'monthly', firstDue: '2026-09-05', count: 10 } },
      { code: 'ENROL', description: 'Inscripción', amount: 120_000, accountCode: '4100', schedule: { kind: 'once', dueDate: '2026-08-15' } },
      { code: 'BUS', description: 'Transporte', amount: 90_000, optional: true, schedule: { kind: 'termly', dueDates: ['2027-01-10', '2026-09-01', '2027-04-05'] } },
    ],
    ...over,
  };
}

/**
 * Writes what a bill run would: one invoice with one charge line billing (enrolment,
 * item, due date), straight to the tables (the bill run lives on another branch).
 */
export async function billInstalment(
  db: Db,
  line: { schoolId: string; studentId: string; enrolmentId: string; itemCode: string; dueDate: string; amount: number; paid?: number },
): Promise<string> {
  const invoice = await db
    .insertInto('invoices')
    .values({
      school_id: line.schoolId,
      student_id: line.studentId,
      number: `T-${randomUUID().slice(0, 8)}`,
      amount: line.amount,
      paid_amount: line.paid ?? 0,
      due_date: line.dueDate,
      description: `${line.itemCode} ${line.dueDate}`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('invoice_lines')
    .values({
      school_id: line.schoolId,
      invoice_id: invoice.id,
      kind: 'charge',
      code: line.itemCode,
      description: line.itemCode,
      amount: line.amount,
      enrolment_id: line.enrolmentId,
      item_code: line.itemCode,
      due_date: line.dueDate,
      billing_key: `${line.enrolmentId}:${line.itemCode}:${line.dueDate}:${randomUUID()}`,
    })
    .execute();
  return invoice.id;
}
