import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Kysely, PostgresDialect } from 'kysely';
import type { DB } from '../../src/db/types.js';
import { createBillingService } from '../../src/modules/billing/billing.service.js';
import { createInvoicesRepository } from '../../src/modules/billing/invoices.repository.js';
import { createPaymentsRepository } from '../../src/modules/billing/payments.repository.js';
import { createSchoolsRepository } from '../../src/modules/billing/schools.repository.js';
import { createStudentsRepository } from '../../src/modules/billing/students.repository.js';
import { createFamilyPaymentsRepository } from '../../src/modules/familypayments/familypayments.repository.js';
import { createFamilyPaymentsService } from '../../src/modules/familypayments/familypayments.service.js';
import * as ledger from '../../src/modules/ledger/ledger.js';
import type { Actor } from '../../src/shared/context.js';
import { createTestApp, insertUser, type TestApp } from '../helpers/app.js';
import { createFamily, createInvoice, createSchool, day } from '../familypayments/fixtures.js';

/**
 * A payment (POST /payments) and a family payment (POST /families/:id/payments) are one
 * statement, their own transaction, when nothing must be written with them and no
 * webhook endpoint listens to payment events; with one listening, they are made in a
 * transaction with their events (ledger.ts, unlessPaymentEventsWanted). The statements
 * are those the services send, as a Kysely logger on the same pool sees them.
 */
describe('a payment in one round trip when nobody listens to its events', () => {
  let t: TestApp;
  let schoolId = '';
  let actor: Actor;
  const statements: string[] = [];
  let billing: ReturnType<typeof createBillingService>;
  let families: ReturnType<typeof createFamilyPaymentsService>;

  before(async () => {
    t = await createTestApp();
    schoolId = await createSchool(t.db, { name: 'Colegio Un Viaje' });
    const userId = await insertUser(t.db, { username: 'trip.root', role: 'super_admin' });
    actor = { principal: { userId, username: 'trip.root', role: 'super_admin', sessionId: randomUUID(), schoolIds: 'all', pii: 'clear', guardian: null }, requestId: 'req-trip' };
    // The pool is the app's: not destroyed here (t.close ends it).
    const logged = new Kysely<DB>({
      dialect: new PostgresDialect({ pool: t.pool }),
      log: (event) => {
        if (event.level === 'query') {
          statements.push(event.query.sql.replace(/\s+/g, ' ').trim());
        }
      },
    });
    billing = createBillingService({
      db: logged,
      schools: createSchoolsRepository(),
      students: createStudentsRepository(),
      invoices: createInvoicesRepository(),
      payments: createPaymentsRepository(),
    });
    families = createFamilyPaymentsService({ db: logged, repository: createFamilyPaymentsRepository(), ledger: { applyCredit: ledger.applyCredit } });
  });
  after(() => t.close());

  async function newFamily() {
    const family = await createFamily(t.db, schoolId, { students: [{ firstName: 'Ana', lastName: 'Viaje' }] });
    const invoices = [
      await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[0] ?? '', amount: 30_000, dueDate: day(-30) }),
      await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[0] ?? '', amount: 20_000, dueDate: day(-10) }),
    ];
    return { family, invoices };
  }

  /** The statements `work` sent, and what it answered. */
  async function sent<T>(work: () => Promise<T>): Promise<{ sql: string[]; result: T }> {
    statements.length = 0;
    const result = await work();
    return { sql: [...statements], result };
  }

  const eventsOf = (objectIds: string[]) =>
    t.db.selectFrom('webhook_events').select(['type', 'object_id']).where('object_id', 'in', objectIds).orderBy('type').orderBy('object_id').execute();

  test('no endpoint: each is one statement, and a replay too; nothing is published', async () => {
    const { family, invoices } = await newFamily();
    const path = `/families/${family.id}/payments`;
    const key = randomUUID();
    const first = await sent(() => families.recordFamilyPayment(actor, family.id, { amount: 40_000, method: 'cash' }, { idempotencyKey: key, path }));
    assert.equal(first.sql.length, 1, first.sql.join('\n'));
    assert.match(first.sql[0] ?? '', /record_family_payment\(/);
    assert.equal(first.result.status, 201);
    assert.equal(first.result.body.allocated, 40_000);
    assert.deepEqual(first.result.body.allocations.map((a) => [a.invoiceId, a.amount]), [[invoices[0], 30_000], [invoices[1], 10_000]]);
    // Committed: another connection sees it.
    const paid = await t.db.selectFrom('invoices').select(['id', 'paid_amount']).where('id', 'in', invoices).orderBy('due_date').execute();
    assert.deepEqual(paid.map((row) => Number(row.paid_amount)), [30_000, 10_000]);

    const replay = await sent(() => families.recordFamilyPayment(actor, family.id, { amount: 40_000, method: 'cash' }, { idempotencyKey: key, path }));
    assert.equal(replay.sql.length, 1);
    assert.equal(replay.result.replayed, true);
    assert.equal(replay.result.body.id, first.result.body.id);

    const single = await sent(() => billing.recordPayment(actor, { invoiceId: invoices[1] ?? '', amount: 5_000, method: 'cash' }, { idempotencyKey: randomUUID(), path: '/payments' }));
    assert.equal(single.sql.length, 1, single.sql.join('\n'));
    assert.match(single.sql[0] ?? '', /record_payment\(/);
    assert.equal(single.result.body.invoice.paidAmount, 15_000);

    assert.deepEqual(await eventsOf([...invoices, single.result.body.id, ...first.result.body.allocations.map((a) => a.paymentId)]), []);
  });

  test('a refusal in the one statement writes nothing and answers as before', async () => {
    const { family } = await newFamily();
    const key = randomUUID();
    await assert.rejects(
      billing.recordPayment(actor, { invoiceId: (await newFamily()).invoices[0] ?? '', amount: 999_999, method: 'cash' }, { idempotencyKey: key, path: '/payments' }),
      (error: { code?: string }) => error.code === 'OVERPAYMENT',
    );
    const claimed = await t.db.selectFrom('idempotency_keys').select('key').where('key', '=', key).execute();
    assert.deepEqual(claimed, [], 'the refused statement rolled back its claim of the key');
    await assert.rejects(
      families.recordFamilyPayment(actor, family.id, { amount: 1_000, method: 'cash', payerGuardianId: randomUUID() }, { idempotencyKey: randomUUID(), path: `/families/${family.id}/payments` }),
      (error: { code?: string }) => error.code === 'BUSINESS_RULE_VIOLATION',
    );
  });

  test('an endpoint listening: a transaction with the payment and its events', async () => {
    const { family, invoices } = await newFamily();
    const owner = await insertUser(t.db, { username: 'trip.hooks', role: 'super_admin' });
    await t.db
      .insertInto('webhook_endpoints')
      .values({ owner_id: owner, url: 'https://93.184.215.14/hooks', events: ['payment.succeeded', 'invoice.paid'], secret: 'whsec_tripTRIPtripTRIPtrip0123' })
      .execute();
    const made = await sent(() => families.recordFamilyPayment(actor, family.id, { amount: 30_000, method: 'cash' }, { idempotencyKey: randomUUID(), path: `/families/${family.id}/payments` }));
    assert.match(made.sql[0] ?? '', /record_family_payment\(/, 'first the one statement, which does nothing when someone listens');
    assert.equal(made.sql[1], 'begin');
    assert.equal(made.sql.at(-1), 'commit');
    assert.equal(made.sql.filter((statement) => /record_family_payment\(/.test(statement)).length, 2);
    const paymentId = made.result.body.allocations[0]?.paymentId ?? '';
    assert.deepEqual(await eventsOf([paymentId, invoices[0] ?? '']), [
      { type: 'invoice.paid', object_id: invoices[0] },
      { type: 'payment.succeeded', object_id: paymentId },
    ]);
    const receipts = await t.db.selectFrom('receipts').select('number').where('family_payment_id', '=', made.result.body.id).execute();
    assert.equal(receipts.length, 1, 'the first statement wrote nothing: one receipt, not two');

    const single = await sent(() => billing.recordPayment(actor, { invoiceId: invoices[1] ?? '', amount: 20_000, method: 'cash' }, { idempotencyKey: randomUUID(), path: '/payments' }));
    assert.equal(single.sql[1], 'begin');
    assert.deepEqual(await eventsOf([single.result.body.id, invoices[1] ?? '']), [
      { type: 'invoice.paid', object_id: invoices[1] },
      { type: 'payment.succeeded', object_id: single.result.body.id },
    ]);
  });
});
