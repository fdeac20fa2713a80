import { sql } from 'kysely';
import { hashPassword } from '../modules/auth/passwords.js';
import { createUsersRepository } from '../modules/auth/users.repository.js';
import type { Db, DbOrTx } from './database.js';
import type { PaymentMethod, Role } from './types.js';

/**
 * The small demo data set created on first start: three schools in three currencies
 * and time zones, students with monthly tuition, payments of every behaviour (on
 * time, late, partial, never), failed card attempts, and the four demo users. It is
 * deterministic (fixed PRNG seed) apart from dates, which are relative to today.
 * Runs once per database: a marker in app_meta is written in the same transaction.
 */
export const DEMO_USERS: readonly { username: string; role: Role; schools: 'first-two' | 'none' }[] = [
  { username: 'super.admin', role: 'super_admin', schools: 'none' },
  { username: 'school.admin', role: 'school_admin', schools: 'first-two' },
  { username: 'finance.analyst', role: 'finance_analyst', schools: 'none' },
  { username: 'developer', role: 'developer', schools: 'none' },
];

const SCHOOLS = [
  { name: 'Colegio Miraflores', currency: 'MXN', timezone: 'America/Mexico_City', fee: 450_000, prefix: 'CMF', phone: '+52 55 5550 1200', email: 'cobranza@miraflores.example.mx', address: 'Av. Reforma 120, CDMX' },
  { name: 'Instituto Andino', currency: 'COP', timezone: 'America/Bogota', fee: 85_000_000, prefix: 'IAN', phone: '+57 601 555 0100', email: 'tesoreria@andino.example.co', address: 'Calle 72 #10-34, Bogotá' },
  { name: 'Lincoln Bilingual School', currency: 'USD', timezone: 'America/New_York', fee: 120_000, prefix: 'LBS', phone: '+1 212 555 0147', email: 'bursar@lincoln.example.org', address: '41 Park Ave, New York' },
] as const;

const FIRST = ['Sofía', 'Mateo', 'Valentina', 'Santiago', 'Camila', 'Sebastián', 'Isabella', 'Diego', 'Emma', 'Liam', 'Olivia', 'Lucas', 'Mía', 'Nicolás', 'Renata', 'Tomás'];
const LAST = ['García', 'Rodríguez', 'Martínez', 'López', 'Hernández', 'Pérez', 'Smith', 'Johnson', 'Gómez', 'Díaz', 'Torres', 'Ramírez', 'Brown', 'Castro', 'Vargas', 'Rojas'];
const GRADES = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
const METHODS: PaymentMethod[] = ['card', 'card', 'bank_transfer', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet'];
const FAILURES = [
  ['card_declined', 'The card was declined by the issuer'],
  ['insufficient_funds', 'Insufficient funds'],
  ['expired_card', 'The card has expired'],
  ['processing_error', 'The gateway could not process the payment'],
] as const;
const STUDENTS_PER_SCHOOL = 12;
const MONTHS = 5; // four past months and the current one

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
const addDays = (date: Date, days: number) => new Date(date.getTime() + days * 86_400_000);

export async function seedDemoData(db: Db, options: { password: string }): Promise<boolean> {
  if (await isSeeded(db)) {
    return false; // the common case on every restart: skip the password hashing below
  }
  const passwordHashes = await Promise.all(DEMO_USERS.map(() => hashPassword(options.password)));
  const users = createUsersRepository();
  return db.transaction().execute(async (trx) => {
    // Two instances starting together: the second waits here, then sees the marker.
    await sql`select pg_advisory_xact_lock(hashtext('bursar:seed-demo'))`.execute(trx);
    if (await isSeeded(trx)) {
      return false;
    }
    const random = prng(20_260_901);
    const now = new Date();
    const schoolIds: string[] = [];
    for (const school of SCHOOLS) {
      const { id } = await trx
        .insertInto('schools')
        .values({ name: school.name, currency: school.currency, timezone: school.timezone, phone: school.phone, email: school.email, address: school.address })
        .returning('id')
        .executeTakeFirstOrThrow();
      schoolIds.push(id);

      for (let s = 0; s < STUDENTS_PER_SCHOOL; s++) {
        const firstName = random.pick(FIRST);
        const lastName = random.pick(LAST);
        const behaviour = random.pick(['on_time', 'on_time', 'on_time', 'late', 'late', 'partial', 'never'] as const);
        const { id: studentId } = await trx
          .insertInto('students')
          .values({
            school_id: id,
            first_name: firstName,
            last_name: lastName,
            email: `${firstName}.${lastName}.${s}@families.example`.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase(),
            grade: random.pick(GRADES),
            enrolled_at: day(addDays(now, -400 - Math.floor(random.next() * 700))),
          })
          .returning('id')
          .executeTakeFirstOrThrow();

        for (let m = MONTHS - 1; m >= 0; m--) {
          const due = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - m, 10));
          const number = `${school.prefix}-${day(due).slice(0, 7).replace('-', '')}-${String(s + 1).padStart(4, '0')}`;
          const payments: { amount: number; paidAt: Date; method: PaymentMethod }[] = [];
          const dueHasPassed = due.getTime() < now.getTime();
          if (behaviour === 'on_time' || (behaviour !== 'never' && !dueHasPassed && random.next() < 0.3)) {
            payments.push({ amount: school.fee, paidAt: addDays(due, -Math.floor(random.next() * 8)), method: random.pick(METHODS) });
          } else if (behaviour === 'late' && dueHasPassed && random.next() < 0.8) {
            payments.push({ amount: school.fee, paidAt: addDays(due, 5 + Math.floor(random.next() * 20)), method: random.pick(METHODS) });
          } else if (behaviour === 'partial' && dueHasPassed) {
            payments.push({ amount: Math.round(school.fee / 2), paidAt: addDays(due, Math.floor(random.next() * 10)), method: random.pick(METHODS) });
          }
          const paid = payments.filter((p) => p.paidAt.getTime() <= now.getTime());
          const { id: invoiceId } = await trx
            .insertInto('invoices')
            .values({
              school_id: id,
              student_id: studentId,
              number,
              description: `Tuition ${day(due).slice(0, 7)}`,
              amount: school.fee,
              paid_amount: paid.reduce((sum, p) => sum + p.amount, 0),
              due_date: day(due),
            })
            .returning('id')
            .executeTakeFirstOrThrow();

          if (random.next() < 0.25 && (behaviour === 'never' || behaviour === 'late')) {
            const [code, message] = random.pick(FAILURES);
            await trx
              .insertInto('transactions')
              .values({ school_id: id, invoice_id: invoiceId, amount: school.fee, method: 'card', status: 'failed', failure_code: code, failure_message: message, gateway: 'demo-gateway', created_at: addDays(due, -1) })
              .execute();
          }
          for (const payment of paid) {
            const { id: paymentId } = await trx
              .insertInto('payments')
              .values({ school_id: id, invoice_id: invoiceId, amount: payment.amount, method: payment.method, reference: `DEMO-${Math.floor(random.next() * 1e8)}`, paid_at: payment.paidAt, created_at: payment.paidAt })
              .returning('id')
              .executeTakeFirstOrThrow();
            await trx
              .insertInto('transactions')
              .values({ school_id: id, invoice_id: invoiceId, payment_id: paymentId, amount: payment.amount, method: payment.method, status: 'succeeded', gateway: 'demo-gateway', created_at: payment.paidAt })
              .execute();
          }
        }
      }
    }

    for (const [index, user] of DEMO_USERS.entries()) {
      const userId = await users.insert(trx, { username: user.username, passwordHash: passwordHashes[index] ?? '', role: user.role });
      await users.replaceSchools(trx, userId, user.schools === 'first-two' ? schoolIds.slice(0, 2) : []);
    }
    await trx.insertInto('app_meta').values({ key: 'demo_seeded_at', value: JSON.stringify(now.toISOString()) }).execute();
    return true;
  });
}
