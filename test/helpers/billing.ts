import type { Db } from '../../src/db/database.js';
import type { PaymentMethod } from '../../src/db/types.js';

/**
 * A small, fully known billing data set written straight to the database (no API), for
 * tests of reads: two schools in different zones and currencies, students, invoices in
 * every status, payments and a refund, with paid_amount consistent with the payments.
 *
 * Dates are relative to "today" so OVERDUE/PENDING are stable whenever the tests run:
 * `past` is 40 days ago, `future` 40 days ahead.
 */
export interface BillingFixture {
  schoolA: string; // MXN, America/Mexico_City
  schoolB: string; // USD, America/New_York
  students: { anaA: string; beto: string; carla: string; dora: string }; // ana, beto in A; carla, dora in B
  invoices: {
    paidA: string; // ana, 10 000 paid in full (two payments: 6 000 card + 4 000 cash)
    overdueA: string; // ana, 5 000 due in the past, 2 000 paid → OVERDUE, pending 3 000
    pendingA: string; // beto, 8 000 due in the future, nothing paid → PENDING
    partialA: string; // beto, 9 000 due in the future, 9 000 paid then 3 000 refunded → PARTIAL (6 000)
    cancelledA: string; // beto, 7 000 cancelled
    overdueB: string; // carla, 20 000 due in the past, nothing paid → OVERDUE
    paidB: string; // dora, 15 000 paid (bank_transfer)
  };
  payments: { paidA1: string; paidA2: string; overdueA: string; partialA: string; paidB: string };
  refundId: string;
  past: string;
  future: string;
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

export async function seedBillingFixture(db: Db): Promise<BillingFixture> {
  const past = day(-40);
  const future = day(40);
  const school = async (name: string, currency: string, timezone: string) =>
    (await db.insertInto('schools').values({ name, currency, timezone }).returning('id').executeTakeFirstOrThrow()).id;
  const schoolA = await school('Colegio Alfa', 'MXN', 'America/Mexico_City');
  const schoolB = await school('Beta Academy', 'USD', 'America/New_York');

  const student = async (schoolId: string, firstName: string, lastName: string, grade: string, email: string) =>
    (await db.insertInto('students').values({ school_id: schoolId, first_name: firstName, last_name: lastName, grade, email }).returning('id').executeTakeFirstOrThrow()).id;
  const anaA = await student(schoolA, 'Ana', 'Alvarez', '3', 'ana.alvarez@families.example');
  const beto = await student(schoolA, 'Beto', 'Bravo', '5', 'beto.bravo@families.example');
  const carla = await student(schoolB, 'Carla', 'Cruz', '3', 'carla.cruz@families.example');
  const dora = await student(schoolB, 'Dora', 'Diaz', '7', 'dora.diaz@families.example');

  let n = 0;
  const invoice = async (schoolId: string, studentId: string, amount: number, paid: number, dueDate: string, cancelled = false) =>
    (
      await db
        .insertInto('invoices')
        .values({
          school_id: schoolId,
          student_id: studentId,
          number: `FX-${++n}`,
          amount,
          paid_amount: paid,
          due_date: dueDate,
          description: `Fixture invoice ${n}`,
          cancelled_at: cancelled ? new Date() : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const paidA = await invoice(schoolA, anaA, 10_000, 10_000, past);
  const overdueA = await invoice(schoolA, anaA, 5_000, 2_000, past);
  const pendingA = await invoice(schoolA, beto, 8_000, 0, future);
  const partialA = await invoice(schoolA, beto, 9_000, 6_000, future);
  const cancelledA = await invoice(schoolA, beto, 7_000, 0, future, true);
  const overdueB = await invoice(schoolB, carla, 20_000, 0, past);
  const paidB = await invoice(schoolB, dora, 15_000, 15_000, past);

  const payment = async (schoolId: string, invoiceId: string, amount: number, method: PaymentMethod, daysAgo: number) => {
    const paidAt = new Date(Date.now() - daysAgo * 86_400_000);
    const id = (
      await db
        .insertInto('payments')
        .values({ school_id: schoolId, invoice_id: invoiceId, amount, method, reference: `REF-${invoiceId.slice(-6)}-${amount}`, paid_at: paidAt })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    await db.insertInto('transactions').values({ school_id: schoolId, invoice_id: invoiceId, payment_id: id, amount, method, status: 'succeeded', created_at: paidAt }).execute();
    return id;
  };
  const paidA1 = await payment(schoolA, paidA, 6_000, 'card', 45);
  const paidA2 = await payment(schoolA, paidA, 4_000, 'cash', 41);
  const overdueAPayment = await payment(schoolA, overdueA, 2_000, 'card', 10);
  const partialAPayment = await payment(schoolA, partialA, 9_000, 'bank_transfer', 5);
  const paidBPayment = await payment(schoolB, paidB, 15_000, 'bank_transfer', 39);
  const refund = await db
    .insertInto('refunds')
    .values({ school_id: schoolA, payment_id: partialAPayment, invoice_id: partialA, amount: 3_000, reason: 'duplicate charge' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('transactions').values({ school_id: schoolA, invoice_id: partialA, payment_id: partialAPayment, refund_id: refund.id, amount: 3_000, method: 'bank_transfer', status: 'refunded' }).execute();

  return {
    schoolA,
    schoolB,
    students: { anaA, beto, carla, dora },
    invoices: { paidA, overdueA, pendingA, partialA, cancelledA, overdueB, paidB },
    payments: { paidA1, paidA2, overdueA: overdueAPayment, partialA: partialAPayment, paidB: paidBPayment },
    refundId: refund.id,
    past,
    future,
  };
}
