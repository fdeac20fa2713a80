import type { Db } from '../../src/db/database.js';
import type { Client } from '../helpers/api.js';

/**
 * A family whose money moved every way the ledger moves it, written through the API
 * (family, guardian, students) and straight to the database (money rows, consistent
 * with migration 0014's model: paid_amount = payments − refunds + credit applied +
 * credit notes + write-offs; credited_amount = credit notes + write-offs).
 *
 * The family (school in America/Mexico_City):
 *   I1 Ana   10 000 due 2026-09-05: paid 6 000 (card, 09-03) + 4 000 of the family payment
 *   I2 Beto   8 000 due 2026-09-05, billed to the family: 5 000 of the family payment, credit note 1 000 (09-20)
 *   I3 Ana    7 000 due 2026-10-05: cancelled
 *   I4 Beto   9 000 due 2026-10-05: 3 000 paid (09-29), 1 000 refunded (2026-10-01 03:00 UTC = 09-30 in Mexico City),
 *             2 000 of family credit (10-02), 500 written off (10-10)
 *   FP       12 000 family payment (09-10): 9 000 allocated, 3 000 to credit
 *   Not the family's: an invoice of a student of another family, and one of Ana billed to another family.
 * Owed 2 000 + 4 500 = 6 500, credit 1 000, balance 5 500.
 */
export interface FamilyLedgerFixture {
  schoolId: string;
  familyId: string;
  reference: string;
}

/** Writes the family above (see the file's comment) through the API and the database. */
export async function seedFamilyLedger(db: Db, api: Client, schoolId: string): Promise<FamilyLedgerFixture> {
  const family = (
    await api.post('/families', { schoolId, name: 'Pérez García', guardians: [{ firstName: 'Ana María', lastName: 'García', email: 'ana@example.com' }] })
  ).json<{ id: string; reference: string }>();
  const other = (await api.post('/families', { schoolId, name: 'Otra' })).json<{ id: string }>();
  const student = async (firstName: string, familyId: string) =>
    (await api.post('/students', { schoolId, firstName, lastName: 'Pérez', grade: firstName === 'Ana' ? '3' : '5', familyId })).json<{ id: string }>().id;
  const ana = await student('Ana', family.id);
  const beto = await student('Beto', family.id);
  const cousin = await student('Primo', other.id);

  const invoice = async (number: string, studentId: string, amount: number, paid: number, credited: number, dueDate: string, extra: { familyId?: string; cancelled?: boolean } = {}) =>
    (
      await db
        .insertInto('invoices')
        .values({
          school_id: schoolId,
          student_id: studentId,
          number,
          description: `Colegiatura ${number}`,
          amount,
          paid_amount: paid,
          credited_amount: credited,
          due_date: dueDate,
          family_id: extra.familyId ?? null,
          cancelled_at: extra.cancelled ? new Date('2026-09-01T12:00:00Z') : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const i1 = await invoice('F-001', ana, 10_000, 10_000, 0, '2026-09-05');
  const i2 = await invoice('F-002', beto, 8_000, 6_000, 1_000, '2026-09-05', { familyId: family.id });
  await invoice('F-003', ana, 7_000, 0, 0, '2026-10-05', { cancelled: true });
  const i4 = await invoice('F-004', beto, 9_000, 4_500, 500, '2026-10-05');
  await invoice('X-001', cousin, 5_000, 0, 0, '2026-09-05');
  await invoice('X-002', ana, 6_000, 0, 0, '2026-09-05', { familyId: other.id });

  let seq = 0;
  const receipt = (values: { paymentId?: string; familyPaymentId?: string }) =>
    db
      .insertInto('receipts')
      .values({ school_id: schoolId, seq: ++seq, number: `COL-2026-${String(seq).padStart(6, '0')}`, payment_id: values.paymentId ?? null, family_payment_id: values.familyPaymentId ?? null })
      .execute();
  const payment = async (invoiceId: string, amount: number, paidAt: string, extra: { familyPaymentId?: string; reference?: string } = {}) => {
    const id = (
      await db
        .insertInto('payments')
        .values({
          school_id: schoolId,
          invoice_id: invoiceId,
          amount,
          method: 'card',
          reference: extra.reference ?? null,
          paid_at: paidAt,
          family_payment_id: extra.familyPaymentId ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    if (extra.familyPaymentId === undefined) {
      await receipt({ paymentId: id });
    }
    return id;
  };
  await payment(i1, 6_000, '2026-09-03T17:00:00Z', { reference: 'TX-123456789' });
  const fp = (
    await db
      .insertInto('family_payments')
      .values({ school_id: schoolId, family_id: family.id, amount: 12_000, allocated: 9_000, credited: 3_000, method: 'bank_transfer', reference: family.reference, paid_at: '2026-09-10T16:00:00Z' })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
  await receipt({ familyPaymentId: fp });
  await payment(i1, 4_000, '2026-09-10T16:00:00Z', { familyPaymentId: fp });
  await payment(i2, 5_000, '2026-09-10T16:00:00Z', { familyPaymentId: fp });
  await db.insertInto('invoice_adjustments').values({ school_id: schoolId, invoice_id: i2, kind: 'credit_note', amount: 1_000, reason: 'Descuento hermanos', number: 'NC-0001', created_at: new Date('2026-09-20T15:00:00Z') }).execute();
  const p4 = await payment(i4, 3_000, '2026-09-29T18:00:00Z');
  await db.insertInto('refunds').values({ school_id: schoolId, payment_id: p4, invoice_id: i4, amount: 1_000, reason: 'Cobro duplicado', created_at: new Date('2026-10-01T03:00:00Z') }).execute();
  await db.insertInto('credit_applications').values({ school_id: schoolId, family_id: family.id, invoice_id: i4, amount: 2_000, created_at: new Date('2026-10-02T15:00:00Z') }).execute();
  await db.insertInto('invoice_adjustments').values({ school_id: schoolId, invoice_id: i4, kind: 'write_off', amount: 500, reason: 'Incobrable', created_at: new Date('2026-10-10T15:00:00Z') }).execute();
  await db.updateTable('families').set({ credit_balance: 1_000 }).where('id', '=', family.id).execute();
  return { schoolId, familyId: family.id, reference: family.reference };
}

