import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createBillingService, type BillingService } from '../../src/modules/billing/billing.service.js';
import { createInvoicesRepository } from '../../src/modules/billing/invoices.repository.js';
import { createPaymentsRepository } from '../../src/modules/billing/payments.repository.js';
import { createSchoolsRepository } from '../../src/modules/billing/schools.repository.js';
import { createStudentsRepository } from '../../src/modules/billing/students.repository.js';
import type { Actor } from '../../src/shared/context.js';
import { AppError } from '../../src/shared/errors.js';
import { principalFor } from '../../src/shared/policy.js';
import { createTestApp, insertUser, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/** billingService.recordFailedAttempt: scope, cancelled invoices, the row and its audit entry. */
describe('recordFailedAttempt', () => {
  let t: TestApp;
  let f: BillingFixture;
  let billing: BillingService;
  let admin: Actor;
  let superAdmin: Actor;

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    billing = createBillingService({
      db: t.db,
      schools: createSchoolsRepository(),
      students: createStudentsRepository(),
      invoices: createInvoicesRepository(),
      payments: createPaymentsRepository(),
    });
    const adminId = await insertUser(t.db, { username: 'fa.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    const superId = await insertUser(t.db, { username: 'fa.super', role: 'super_admin' });
    admin = { principal: principalFor({ id: adminId, username: 'fa.admin', role: 'school_admin', schoolIds: [f.schoolA] }, 'session-a'), requestId: 'req-fa-1' };
    superAdmin = { principal: principalFor({ id: superId, username: 'fa.super', role: 'super_admin', schoolIds: [] }, 'session-s'), requestId: 'req-fa-2' };
  });
  after(() => t.close());

  const attempt = (invoiceId: string, extra: Partial<Parameters<BillingService['recordFailedAttempt']>[1]> = {}) => ({
    invoiceId,
    amount: 3_000,
    method: 'card' as const,
    failureCode: 'card_declined',
    failureMessage: 'The card was declined by the issuer',
    gateway: 'conekta',
    ...extra,
  });

  const rejects = async (work: Promise<unknown>, code: string) => {
    await assert.rejects(work, (error: unknown) => error instanceof AppError && error.code === code);
  };

  test('writes a failed transaction and its audit entry; no money moves', async () => {
    const before = await t.db.selectFrom('invoices').select(['paid_amount']).where('id', '=', f.invoices.overdueA).executeTakeFirstOrThrow();
    const receipt = await billing.recordFailedAttempt(admin, attempt(f.invoices.overdueA));
    assert.equal(receipt.invoiceId, f.invoices.overdueA);
    assert.equal(receipt.schoolId, f.schoolA);
    const row = await t.db.selectFrom('transactions').selectAll().where('id', '=', receipt.transactionId).executeTakeFirstOrThrow();
    assert.deepEqual(
      [row.status, row.amount, row.method, row.failure_code, row.failure_message, row.gateway, row.school_id, row.invoice_id, row.payment_id],
      ['failed', 3_000, 'card', 'card_declined', 'The card was declined by the issuer', 'conekta', f.schoolA, f.invoices.overdueA, null],
    );
    assert.notEqual(row.xact_id, null);
    const after = await t.db.selectFrom('invoices').select(['paid_amount']).where('id', '=', f.invoices.overdueA).executeTakeFirstOrThrow();
    assert.equal(after.paid_amount, before.paid_amount);
    const audit = await t.db.selectFrom('audit_log').selectAll().where('entity_id', '=', receipt.transactionId).executeTakeFirstOrThrow();
    assert.deepEqual([audit.action, audit.entity_type, audit.actor_username, audit.request_id, audit.school_id], ['payment.fail', 'transaction', 'fa.admin', 'req-fa-1', f.schoolA]);
    // Without a gateway the column default applies.
    const plain = await billing.recordFailedAttempt(superAdmin, attempt(f.invoices.overdueB, { gateway: undefined, failureMessage: undefined }));
    const plainRow = await t.db.selectFrom('transactions').select(['gateway', 'failure_message']).where('id', '=', plain.transactionId).executeTakeFirstOrThrow();
    assert.deepEqual([plainRow.gateway, plainRow.failure_message], ['internal', null]);
  });

  test("another school's invoice is a 404 for a school_admin; unknown invoices too", async () => {
    const count = async () => Number((await t.db.selectFrom('transactions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    await rejects(billing.recordFailedAttempt(admin, attempt(f.invoices.overdueB)), 'NOT_FOUND');
    await rejects(billing.recordFailedAttempt(superAdmin, attempt('00000000-0000-7000-8000-000000000000')), 'NOT_FOUND');
    assert.equal(await count(), before);
    await billing.recordFailedAttempt(superAdmin, attempt(f.invoices.overdueB));
    assert.equal(await count(), before + 1);
  });

  test('a cancelled invoice is refused (409 INVOICE_CANCELLED); bad amounts and codes are 400', async () => {
    await rejects(billing.recordFailedAttempt(admin, attempt(f.invoices.cancelledA)), 'INVOICE_CANCELLED');
    await rejects(billing.recordFailedAttempt(superAdmin, attempt(f.invoices.cancelledA)), 'INVOICE_CANCELLED');
    await rejects(billing.recordFailedAttempt(admin, attempt(f.invoices.pendingA, { amount: 0 })), 'VALIDATION_FAILED');
    await rejects(billing.recordFailedAttempt(admin, attempt(f.invoices.pendingA, { amount: 1.5 })), 'VALIDATION_FAILED');
    await rejects(billing.recordFailedAttempt(admin, attempt(f.invoices.pendingA, { failureCode: ' ' })), 'VALIDATION_FAILED');
    await rejects(billing.recordFailedAttempt({ principal: null, requestId: null }, attempt(f.invoices.pendingA)), 'UNAUTHENTICATED');
    const rows = await t.db.selectFrom('transactions').select('id').where('invoice_id', '=', f.invoices.cancelledA).execute();
    assert.equal(rows.length, 0);
  });
});
