import assert from 'node:assert/strict';
import type { Db } from '../../src/db/database.js';
import { todayIn } from '../../src/shared/time.js';

/** A school-local day `offset` days from today in Mexico City ('YYYY-MM-DD'). */
export function localDay(offset: number, timeZone = 'America/Mexico_City'): string {
  const today = todayIn(timeZone);
  return new Date(Date.parse(`${today}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
}

/** Noon of a Mexico City day as an instant (UTC−6, no DST since 2022). */
const noonIn = (day: string) => new Date(`${day}T18:00:00Z`);

/**
 * A student with a known history in `schoolId` (Mexico City, MXN), the same as the
 * "new family paying late and in parts" case of rules.test.ts, relative to today:
 * bills of 1 000.00 due T−150 (paid 2 days early), T−120 (paid 15 days late), T−90
 * (paid in two halves, the second 30 days late), T−66 (400.00 paid, overdue), T−36
 * (unpaid, overdue) and T+25 (not yet due); enrolled T−165. Expected: 76 points, HIGH.
 */
export async function insertLatePayer(db: Db, schoolId: string, name = { first: 'Lucia', last: 'Tardanza' }): Promise<string> {
  const enrolledAt = localDay(-165);
  const student = await db
    .insertInto('students')
    .values({ school_id: schoolId, first_name: name.first, last_name: name.last, grade: '4', email: null, enrolled_at: enrolledAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  const bills: { due: number; paid: { day: number; amount: number }[] }[] = [
    { due: -150, paid: [{ day: -152, amount: 100_000 }] },
    { due: -120, paid: [{ day: -105, amount: 100_000 }] },
    { due: -90, paid: [{ day: -70, amount: 50_000 }, { day: -60, amount: 50_000 }] },
    { due: -66, paid: [{ day: -50, amount: 40_000 }] },
    { due: -36, paid: [] },
    { due: 25, paid: [] },
  ];
  let n = 0;
  for (const bill of bills) {
    const paidAmount = bill.paid.reduce((sum, p) => sum + p.amount, 0);
    const invoice = await db
      .insertInto('invoices')
      .values({ school_id: schoolId, student_id: student.id, number: `LP-${student.id.slice(-4)}-${++n}`, amount: 100_000, paid_amount: paidAmount, due_date: localDay(bill.due), description: `Colegiatura ${n}` })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const payment of bill.paid) {
      await db
        .insertInto('payments')
        .values({ school_id: schoolId, invoice_id: invoice.id, amount: payment.amount, method: 'cash', reference: null, paid_at: noonIn(localDay(payment.day)) })
        .execute();
    }
  }
  return student.id;
}

/** Asserts that none of `names` occurs as a word in `text` (case-sensitive, as names are written). */
export function assertNoNames(text: string, names: string[], what: string): void {
  for (const name of names) {
    assert.doesNotMatch(text, new RegExp(`(^|[^\\p{L}])${name}($|[^\\p{L}])`, 'u'), `${what} contains "${name}"`);
  }
}
