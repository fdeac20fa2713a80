import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import {
  applyCredit,
  postCreditNote,
  postFamilyPayment,
  postInvoice,
  postInvoices,
  postPayment,
  postRefund,
  postWriteOff,
  voidInvoice,
} from '../../src/modules/ledger/ledger.js';
import { insertFamilySchool, openLedgerDatabase } from './fixtures.js';

describe('ledger postings', () => {
  let db: Db;
  let database: Awaited<ReturnType<typeof openLedgerDatabase>>;
  let school: Awaited<ReturnType<typeof insertFamilySchool>>;

  before(async () => {
    database = await openLedgerDatabase();
    db = database.db;
    school = await insertFamilySchool(db);
  });
  after(() => database.close());

  const invoiceRow = (id: string) =>
    db.selectFrom('invoices').select(['amount', 'paid_amount', 'credited_amount', 'cancelled_at', 'number', 'family_id']).where('id', '=', id).executeTakeFirstOrThrow();

  test('an invoice with lines amounts to the sum of its lines, numbered from the school sequence', async () => {
    const posted = await db.transaction().execute((trx) =>
      postInvoice(trx, {
        schoolId: school.schoolId,
        studentId: school.children[0] ?? '',
        familyId: school.familyId,
        description: 'September',
        dueDate: '2026-09-05',
        lines: [
          { kind: 'charge', code: 'tuition', description: 'Tuition', amount: 300_000 },
          { kind: 'charge', code: 'transport', description: 'Bus', amount: 50_000 },
          { kind: 'discount', code: 'sibling', description: 'Sibling 10 %', amount: -30_000 },
        ],
      }),
    );
    assert.equal(posted.amount, 320_000);
    assert.equal(posted.number, 'INV-000001');
    const row = await invoiceRow(posted.id);
    assert.equal(row.amount, 320_000);
    assert.equal(row.family_id, school.familyId);
    const lines = await db.selectFrom('invoice_lines').select(['kind', 'amount']).where('invoice_id', '=', posted.id).orderBy('amount').execute();
    assert.deepEqual(
      lines.map((l) => [l.kind, l.amount]),
      [
        ['discount', -30_000],
        ['charge', 50_000],
        ['charge', 300_000],
      ],
    );
  });

  test('many invoices at once take consecutive numbers and keep input order', async () => {
    const posted = await db.transaction().execute((trx) =>
      postInvoices(
        trx,
        [1, 2, 3].map((n) => ({
          schoolId: school.schoolId,
          studentId: school.children[n % 2] ?? '',
          description: null,
          dueDate: `2026-1${n - 1}-05`,
          lines: [{ kind: 'charge' as const, code: 'tuition', description: `Tuition ${n}`, amount: n * 1000 }],
        })),
      ),
    );
    assert.deepEqual(
      posted.map((p) => [p.number, p.amount]),
      [
        ['INV-000002', 1000],
        ['INV-000003', 2000],
        ['INV-000004', 3000],
      ],
    );
  });

  test('a payment moves paid_amount and takes receipt 1; a refund moves it back', async () => {
    const { id } = await db.transaction().execute((trx) =>
      postInvoice(trx, { schoolId: school.schoolId, studentId: school.lonerId, description: 'Fee', dueDate: '2099-09-05', lines: [{ kind: 'charge', code: 'fee', description: 'Fee', amount: 10_000 }] }),
    );
    const payment = await db.transaction().execute((trx) =>
      postPayment(trx, { schoolId: school.schoolId, invoiceId: id, amount: 4_000, method: 'cash', reference: null, paidAt: new Date('2026-09-01T03:00:00Z'), createdBy: null }),
    );
    // 03:00 UTC on 1 September is still 31 August in Mexico City: the year is local.
    assert.equal(payment.receiptNumber, 'COLE-2026-000001');
    assert.equal(payment.invoice.paidAmount, 4_000);
    assert.equal(payment.invoice.status, 'PARTIAL');
    assert.equal((await invoiceRow(id)).paid_amount, 4_000);
    const transactions = await db.selectFrom('transactions').select(['status', 'amount']).where('payment_id', '=', payment.id).execute();
    assert.deepEqual(transactions, [{ status: 'succeeded', amount: 4_000 }]);

    const refund = await db.transaction().execute((trx) =>
      postRefund(trx, { schoolId: school.schoolId, paymentId: payment.id, invoiceId: id, amount: 1_500, reason: 'duplicate', createdBy: null }),
    );
    assert.equal(refund.invoice.paidAmount, 2_500);
    assert.equal(refund.amount, 1_500);

    const second = await db.transaction().execute((trx) =>
      postPayment(trx, { schoolId: school.schoolId, invoiceId: id, amount: 100, method: 'card', reference: null, paidAt: new Date('2027-01-02T12:00:00Z'), createdBy: null }),
    );
    assert.equal(second.receiptNumber, 'COLE-2027-000002');
  });

  test('a family payment settles its allocations, its remainder becomes family credit, with one receipt', async () => {
    const [a, b] = await db.transaction().execute((trx) =>
      postInvoices(
        trx,
        (school.children as [string, string]).map((studentId, n) => ({
          schoolId: school.schoolId,
          studentId,
          familyId: school.familyId,
          description: 'October',
          dueDate: `2026-10-0${n + 1}`,
          lines: [{ kind: 'charge' as const, code: 'tuition', description: 'Tuition', amount: 5_000 }],
        })),
      ),
    );
    assert.ok(a && b);
    const receiptsBefore = await db.selectFrom('receipts').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
    const fp = await db.transaction().execute((trx) =>
      postFamilyPayment(trx, {
        schoolId: school.schoolId,
        familyId: school.familyId,
        amount: 12_000,
        method: 'bank_transfer',
        reference: 'SPEI 123',
        paidAt: new Date('2026-10-01T18:00:00Z'),
        createdBy: null,
        allocations: [
          { invoiceId: a.id, amount: 5_000 },
          { invoiceId: b.id, amount: 3_000 },
        ],
      }),
    );
    assert.equal(fp.allocated, 8_000);
    assert.equal(fp.credited, 4_000);
    assert.equal(fp.payments.length, 2);
    assert.match(fp.receiptNumber, /^COLE-2026-\d{6}$/);
    const receiptsAfter = await db.selectFrom('receipts').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
    assert.equal(receiptsAfter.n, receiptsBefore.n + 1);
    assert.equal((await invoiceRow(a.id)).paid_amount, 5_000);
    assert.equal((await invoiceRow(b.id)).paid_amount, 3_000);
    const family = await db.selectFrom('families').select('credit_balance').where('id', '=', school.familyId).executeTakeFirstOrThrow();
    assert.equal(family.credit_balance, 4_000);

    // The credit settles the rest of b.
    const applied = await db.transaction().execute((trx) =>
      applyCredit(trx, { schoolId: school.schoolId, familyId: school.familyId, invoiceId: b.id, amount: 2_000, createdBy: null }),
    );
    assert.equal(applied.invoice.status, 'PAID');
    const familyAfter = await db.selectFrom('families').select('credit_balance').where('id', '=', school.familyId).executeTakeFirstOrThrow();
    assert.equal(familyAfter.credit_balance, 2_000);
    // Credit cannot go below zero (the database's last line of defence).
    await assert.rejects(
      db.transaction().execute((trx) => applyCredit(trx, { schoolId: school.schoolId, familyId: school.familyId, invoiceId: a.id, amount: 1, createdBy: null })),
    );
  });

  test('credit notes are numbered per school and count as credited; write-offs too; voiding only while nothing settled', async () => {
    const { id } = await db.transaction().execute((trx) =>
      postInvoice(trx, { schoolId: school.schoolId, studentId: school.lonerId, description: null, dueDate: '2026-11-05', lines: [{ kind: 'charge', code: 'fee', description: 'Fee', amount: 9_000 }] }),
    );
    const cn = await db.transaction().execute((trx) => postCreditNote(trx, { schoolId: school.schoolId, invoiceId: id, amount: 2_000, reason: 'fee correction', createdBy: null }));
    assert.equal(cn.number, 'CN-000001');
    assert.equal(cn.invoice.creditedAmount, 2_000);
    assert.equal(cn.invoice.pendingAmount, 7_000);
    const wo = await db.transaction().execute((trx) => postWriteOff(trx, { schoolId: school.schoolId, invoiceId: id, amount: 7_000, reason: 'bad debt', createdBy: null }));
    assert.equal(wo.number, null);
    assert.equal(wo.invoice.status, 'PAID');
    assert.equal(wo.invoice.creditedAmount, 9_000);
    // Above what is open: refused by the database check.
    await assert.rejects(db.transaction().execute((trx) => postWriteOff(trx, { schoolId: school.schoolId, invoiceId: id, amount: 1, reason: 'x', createdBy: null })));
    await assert.rejects(db.transaction().execute((trx) => voidInvoice(trx, { schoolId: school.schoolId, invoiceId: id })), /cannot be voided/);

    const other = await db.transaction().execute((trx) =>
      postInvoice(trx, { schoolId: school.schoolId, studentId: school.lonerId, description: null, dueDate: '2026-11-05', lines: [{ kind: 'charge', code: 'fee', description: 'Fee', amount: 1_000 }] }),
    );
    await db.transaction().execute((trx) => voidInvoice(trx, { schoolId: school.schoolId, invoiceId: other.id }));
    assert.notEqual((await invoiceRow(other.id)).cancelled_at, null);
    // Voiding again is a no-op.
    await db.transaction().execute((trx) => voidInvoice(trx, { schoolId: school.schoolId, invoiceId: other.id }));
  });

  test('a receipt prefix falls back to SCH when the school name has no ASCII letters', async () => {
    const other = await insertFamilySchool(db, { name: '東京 123', timezone: 'Asia/Tokyo' });
    const { id } = await db.transaction().execute((trx) =>
      postInvoice(trx, { schoolId: other.schoolId, studentId: other.lonerId, description: null, dueDate: '2026-11-05', lines: [{ kind: 'charge', code: 'fee', description: 'Fee', amount: 1_000 }] }),
    );
    const payment = await db.transaction().execute((trx) =>
      postPayment(trx, { schoolId: other.schoolId, invoiceId: id, amount: 1_000, method: 'cash', reference: null, paidAt: new Date('2026-12-31T16:00:00Z'), createdBy: null }),
    );
    assert.equal(payment.receiptNumber, 'SCH-2027-000001');
  });
});
