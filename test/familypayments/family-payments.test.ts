import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { client, type Client } from '../helpers/api.js';
import { createFamily, createInvoice, createSchool, creditOf, day, familyInvariant, invoiceFigures, type FamilyFixture } from './fixtures.js';

interface Allocation {
  paymentId: string;
  invoiceId: string;
  invoiceNumber: string;
  amount: number;
}
interface FamilyPaymentBody {
  id: string;
  familyId: string;
  schoolId: string;
  payerGuardianId: string | null;
  amount: number;
  allocated: number;
  credited: number;
  currency: string;
  receiptNumber: string;
  method: string;
  reference: string | null;
  paidAt: string;
  createdAt: string;
  allocations: Allocation[];
  balance: { owed: number; credit: number };
}
interface CreditAppliedBody {
  familyId: string;
  applied: number;
  applications: { id: string; invoiceId: string; invoiceNumber: string; amount: number }[];
  balance: { owed: number; credit: number };
}

describe('POST /families/:id/payments, GET /families/:id/payments, POST /families/:id/apply-credit', () => {
  let t: TestApp;
  let schoolA = '';
  let schoolB = '';
  let root: Client;
  let admin: Client;
  let adminAuth = '';
  let adminB: Client;
  let analyst: Client;
  let developer: Client;

  before(async () => {
    t = await createTestApp();
    schoolA = await createSchool(t.db, { name: 'Colegio Miraflores' });
    schoolB = await createSchool(t.db, { name: 'Beta Academy', currency: 'USD', timezone: 'America/New_York' });
    await insertUser(t.db, { username: 'fp.root', role: 'super_admin' });
    await insertUser(t.db, { username: 'fp.admin', role: 'school_admin', schoolIds: [schoolA] });
    await insertUser(t.db, { username: 'fp.adminb', role: 'school_admin', schoolIds: [schoolB] });
    await insertUser(t.db, { username: 'fp.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'fp.dev', role: 'developer' });
    root = client(t.app, (await login(t.app, 'fp.root')).accessToken);
    const adminToken = (await login(t.app, 'fp.admin')).accessToken;
    adminAuth = `Bearer ${adminToken}`;
    admin = client(t.app, adminToken);
    adminB = client(t.app, (await login(t.app, 'fp.adminb')).accessToken);
    analyst = client(t.app, (await login(t.app, 'fp.analyst')).accessToken);
    developer = client(t.app, (await login(t.app, 'fp.dev')).accessToken);
  });
  after(() => t.close());

  const pay = (as: Client, familyId: string, body: object, key: string = randomUUID()) =>
    as.post(`/families/${familyId}/payments`, body, { 'idempotency-key': key });

  /** Three siblings, four open invoices due on different days (one cancelled, one paid), and one of another family. */
  async function siblings(): Promise<{ family: FamilyFixture; invoices: { first: string; second: string; third: string; fourth: string; cancelled: string; paid: string } }> {
    const family = await createFamily(t.db, schoolA, {
      name: 'Pérez García',
      guardians: [
        { firstName: 'Laura', lastName: 'García' },
        { firstName: 'Jorge', lastName: 'Pérez' },
      ],
      students: [
        { firstName: 'Ana', lastName: 'Pérez' },
        { firstName: 'Beto', lastName: 'Pérez' },
        { firstName: 'Carla', lastName: 'Pérez' },
      ],
    });
    const [ana = '', beto = '', carla = ''] = family.students;
    const base = { schoolId: schoolA, familyId: family.id };
    // Created out of due order, so the order comes from due dates, not from ids.
    const third = await createInvoice(t.db, { ...base, studentId: carla, amount: 30_000, dueDate: day(-10) });
    const first = await createInvoice(t.db, { ...base, studentId: beto, amount: 10_000, dueDate: day(-40) });
    const fourth = await createInvoice(t.db, { ...base, studentId: ana, amount: 40_000, dueDate: day(20) });
    const second = await createInvoice(t.db, { ...base, studentId: ana, amount: 20_000, dueDate: day(-20) });
    const cancelled = await createInvoice(t.db, { ...base, studentId: ana, amount: 99_000, dueDate: day(-90), cancelled: true });
    const paid = await createInvoice(t.db, { ...base, studentId: beto, amount: 5_000, dueDate: day(-60) });
    const settle = await root.pay({ invoiceId: paid, amount: 5_000, method: 'cash' });
    assert.equal(settle.statusCode, 201, settle.body);
    return { family, invoices: { first, second, third, fourth, cancelled, paid } };
  }

  test('allocates oldest due date first across siblings, credits the rest, one receipt, audited, invariant holds', async () => {
    const { family, invoices } = await siblings();
    const other = await createFamily(t.db, schoolA);
    const strangers = await createInvoice(t.db, { schoolId: schoolA, studentId: other.students[0] ?? '', familyId: other.id, amount: 7_000, dueDate: day(-100) });

    const response = await pay(admin, family.id, { amount: 45_000, method: 'bank_transfer', reference: 'SPEI-000123456789' });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json<FamilyPaymentBody>();
    assert.equal(body.familyId, family.id);
    assert.equal(body.schoolId, schoolA);
    assert.equal(body.amount, 45_000);
    assert.equal(body.allocated, 45_000);
    assert.equal(body.credited, 0);
    assert.equal(body.currency, 'MXN');
    assert.equal(body.method, 'bank_transfer');
    assert.equal(body.reference, 'SPEI-000123456789');
    assert.match(body.receiptNumber, /^[A-Z]{1,4}-\d{4}-\d{6,}$/);
    assert.deepEqual(
      body.allocations.map((a) => [a.invoiceId, a.amount]),
      [
        [invoices.first, 10_000],
        [invoices.second, 20_000],
        [invoices.third, 15_000],
      ],
    );
    assert.ok(body.allocations.every((a) => /^FP-\d{6}$/.test(a.invoiceNumber)));
    // Owed: 15 000 left on the third, 40 000 on the fourth; the cancelled one counts for nothing.
    assert.deepEqual(body.balance, { owed: 55_000, credit: 0 });
    assert.deepEqual(await invoiceFigures(t.db, invoices.third), { amount: 30_000, paid: 15_000, open: 15_000 });
    assert.equal((await invoiceFigures(t.db, invoices.cancelled)).paid, 0);
    assert.equal((await invoiceFigures(t.db, strangers)).paid, 0, 'another family’s invoice is untouched');

    // The payments rows are linked to the family payment; one audit entry names it.
    const rows = await t.db.selectFrom('payments').select(['id', 'invoice_id', 'amount']).where('family_payment_id', '=', body.id).execute();
    assert.deepEqual(new Set(rows.map((row) => row.id)), new Set(body.allocations.map((a) => a.paymentId)));
    const audit = await t.db.selectFrom('audit_log').selectAll().where('entity_id', '=', body.id).execute();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]?.action, 'family_payment.create');
    assert.equal(audit[0]?.actor_username, 'fp.admin');

    // Paying more than is open: the rest becomes family credit.
    const over = await pay(admin, family.id, { amount: 60_000, method: 'cash' });
    assert.equal(over.statusCode, 201, over.body);
    const overBody = over.json<FamilyPaymentBody>();
    assert.deepEqual(
      overBody.allocations.map((a) => [a.invoiceId, a.amount]),
      [
        [invoices.third, 15_000],
        [invoices.fourth, 40_000],
      ],
    );
    assert.equal(overBody.credited, 5_000);
    assert.deepEqual(overBody.balance, { owed: 0, credit: 5_000 });
    assert.equal(await creditOf(t.db, family.id), 5_000);
    assert.notEqual(overBody.receiptNumber, body.receiptNumber);

    // Nothing open at all: everything is credit.
    const allCredit = await pay(root, family.id, { amount: 1_000, method: 'card' });
    assert.equal(allCredit.statusCode, 201, allCredit.body);
    assert.deepEqual([allCredit.json<FamilyPaymentBody>().allocations, allCredit.json<FamilyPaymentBody>().credited], [[], 1_000]);

    const invariant = await familyInvariant(t.db, family.id);
    assert.equal(invariant.left, invariant.right);
  });

  test('an invoice billed directly to a sibling (no family_id) is the family’s too', async () => {
    const family = await createFamily(t.db, schoolA);
    const direct = await createInvoice(t.db, { schoolId: schoolA, studentId: family.students[0] ?? '', familyId: null, amount: 8_000, dueDate: day(-5) });
    const response = await pay(admin, family.id, { amount: 10_000, method: 'cash' });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json<FamilyPaymentBody>();
    assert.deepEqual(body.allocations.map((a) => [a.invoiceId, a.amount]), [[direct, 8_000]]);
    assert.deepEqual(body.balance, { owed: 0, credit: 2_000 });
  });

  test('payerGuardianId: only that payer’s invoices take the money; another family’s guardian is a 422 naming it', async () => {
    const family = await createFamily(t.db, schoolA, {
      guardians: [
        { firstName: 'Mamá', lastName: 'Uno' },
        { firstName: 'Papá', lastName: 'Uno' },
      ],
      students: [{ firstName: 'Dani', lastName: 'Uno' }],
    });
    const [mum = '', dad = ''] = family.guardians;
    const student = family.students[0] ?? '';
    const base = { schoolId: schoolA, familyId: family.id, studentId: student };
    const mumsOld = await createInvoice(t.db, { ...base, payerGuardianId: mum, amount: 6_000, dueDate: day(-30) });
    const dadsOlder = await createInvoice(t.db, { ...base, payerGuardianId: dad, amount: 6_000, dueDate: day(-60) });
    const mumsNew = await createInvoice(t.db, { ...base, payerGuardianId: mum, amount: 6_000, dueDate: day(30) });

    const response = await pay(admin, family.id, { amount: 8_000, method: 'card', payerGuardianId: mum });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json<FamilyPaymentBody>();
    assert.equal(body.payerGuardianId, mum);
    assert.deepEqual(
      body.allocations.map((a) => [a.invoiceId, a.amount]),
      [
        [mumsOld, 6_000],
        [mumsNew, 2_000],
      ],
    );
    assert.equal((await invoiceFigures(t.db, dadsOlder)).paid, 0, 'the other payer’s invoice, though older, is untouched');
    // The family's balance: dad's 6 000 and mum's 4 000 left.
    assert.deepEqual(body.balance, { owed: 10_000, credit: 0 });

    const stranger = await createFamily(t.db, schoolA);
    for (const payerGuardianId of [stranger.guardians[0] ?? '', randomUUID()]) {
      const refused = await pay(admin, family.id, { amount: 100, method: 'card', payerGuardianId });
      assert.equal(refused.statusCode, 422, refused.body);
      assert.equal(problemOf(refused).errors?.[0]?.field, 'payerGuardianId');
    }
    const deleted = family.guardians[1] ?? '';
    await t.db.updateTable('guardians').set({ deleted_at: new Date() }).where('id', '=', deleted).execute();
    const gone = await pay(admin, family.id, { amount: 100, method: 'card', payerGuardianId: deleted });
    assert.equal(gone.statusCode, 422);
    assert.equal((await invoiceFigures(t.db, dadsOlder)).paid, 0, 'nothing half-written');
  });

  test('Idempotency-Key: the same key and body answer the first payment again; another body is a 422', async () => {
    const { family } = await siblings();
    const key = randomUUID();
    const body = { amount: 12_000, method: 'cash', reference: 'CAJA-1' };
    const first = await pay(admin, family.id, body, key);
    assert.equal(first.statusCode, 201, first.body);
    const again = await pay(admin, family.id, { reference: 'CAJA-1', method: 'cash', amount: 12_000 }, key);
    assert.equal(again.statusCode, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json(), first.json());
    const count = await t.db.selectFrom('family_payments').select((eb) => eb.fn.countAll<number>().as('n')).where('family_id', '=', family.id).executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 1);

    const other = await pay(admin, family.id, { ...body, amount: 12_001 }, key);
    assert.equal(other.statusCode, 422);
    assert.equal(problemOf(other).errors?.[0]?.field, 'idempotency-key');
    const missing = await admin.post(`/families/${family.id}/payments`, body);
    assert.equal(missing.statusCode, 400);
    assert.equal(problemOf(missing).errors?.[0]?.field, 'idempotency-key');
  });

  test('bad input: 4xx problem+json naming the field, nothing written', async () => {
    const { family } = await siblings();
    const cases: [object, number, string][] = [
      [{ amount: 0, method: 'cash' }, 400, 'amount'],
      [{ amount: -500, method: 'cash' }, 400, 'amount'],
      [{ amount: 1.5, method: 'cash' }, 400, 'amount'],
      [{ amount: '1000', method: 'cash' }, 400, 'amount'],
      [{ method: 'cash' }, 400, 'amount'],
      [{ amount: 1_000, method: 'cheque' }, 400, 'method'],
      [{ amount: 1_000, method: 'cash', reference: '' }, 400, 'reference'],
      [{ amount: 1_000, method: 'cash', payerGuardianId: 'nope' }, 400, 'payerGuardianId'],
      [{ amount: 1_000, method: 'cash', paidAt: '2026-02-30T10:00:00Z' }, 400, 'paidAt'],
      [{ amount: 1_000, method: 'cash', paidAt: new Date(Date.now() + 86_400_000).toISOString() }, 400, 'paidAt'],
      [{ amount: 1_000, method: 'cash', paidAt: '2001-01-01T00:00:00Z' }, 422, 'paidAt'],
      [{ amount: 1_000, method: 'cash', surprise: true }, 400, 'surprise'],
    ];
    for (const [body, status, field] of cases) {
      const response = await pay(admin, family.id, body);
      assert.equal(response.statusCode, status, `${JSON.stringify(body)}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(
        problem.errors?.some((error) => error.field === field) || problem.detail.includes(field),
        `${JSON.stringify(body)} names ${field}: ${response.body}`,
      );
    }
    const count = await t.db.selectFrom('family_payments').select((eb) => eb.fn.countAll<number>().as('n')).where('family_id', '=', family.id).executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 0);
    // A paidAt inside the window is kept as given.
    const when = new Date(Date.now() - 100 * 86_400_000).toISOString();
    const dated = await pay(admin, family.id, { amount: 1_000, method: 'cash', paidAt: when });
    assert.equal(dated.statusCode, 201, dated.body);
    assert.equal(dated.json<FamilyPaymentBody>().paidAt, when);

    const unknown = await pay(admin, randomUUID(), { amount: 1_000, method: 'cash' });
    assert.equal(unknown.statusCode, 404);
  });

  test('roles: school_admin in its schools (404 elsewhere), finance_analyst reads masked and may not pay, developer 403', async () => {
    const { family } = await siblings();
    const paid = await pay(admin, family.id, { amount: 2_500, method: 'card', reference: 'TX-2026-000123456' });
    assert.equal(paid.statusCode, 201, paid.body);

    const elsewhere = await pay(adminB, family.id, { amount: 1_000, method: 'cash' });
    assert.equal(elsewhere.statusCode, 404);
    assert.equal((await adminB.get(`/families/${family.id}/payments`)).statusCode, 404);
    assert.equal((await adminB.post(`/families/${family.id}/apply-credit`, {})).statusCode, 404);

    const analystPays = await pay(analyst, family.id, { amount: 1_000, method: 'cash' });
    assert.equal(analystPays.statusCode, 403);
    assert.equal((await analyst.post(`/families/${family.id}/apply-credit`, {})).statusCode, 403);
    const listed = await analyst.get(`/families/${family.id}/payments`);
    assert.equal(listed.statusCode, 200, listed.body);
    const [row] = listed.json<{ data: FamilyPaymentBody[] }>().data;
    assert.equal(row?.reference, '***3456');
    assert.equal(row?.amount, 2_500);

    assert.equal((await pay(developer, family.id, { amount: 1_000, method: 'cash' })).statusCode, 403);
    assert.equal((await developer.get(`/families/${family.id}/payments`)).statusCode, 403);
    assert.equal((await developer.post(`/families/${family.id}/apply-credit`, {})).statusCode, 403);
    assert.equal((await client(t.app, null).get(`/families/${family.id}/payments`)).statusCode, 401);
  });

  test('GET /families/:id/payments: newest first, with allocations and receipt numbers, paged by cursor', async () => {
    const { family } = await siblings();
    const made: FamilyPaymentBody[] = [];
    for (const amount of [1_000, 2_000, 3_000]) {
      const response = await pay(admin, family.id, { amount, method: 'cash' });
      made.push(response.json<FamilyPaymentBody>());
    }
    const first = await admin.get(`/families/${family.id}/payments?limit=2`);
    assert.equal(first.statusCode, 200, first.body);
    const page = first.json<{ data: FamilyPaymentBody[]; nextCursor: string | null }>();
    assert.deepEqual(page.data.map((row) => row.amount), [3_000, 2_000]);
    assert.ok(page.nextCursor);
    const second = await admin.get(`/families/${family.id}/payments?limit=2&cursor=${page.nextCursor}`);
    const rest = second.json<{ data: FamilyPaymentBody[]; nextCursor: string | null }>();
    assert.deepEqual(rest.data.map((row) => row.amount), [1_000]);
    assert.equal(rest.nextCursor, null);
    const oldest = rest.data[0];
    assert.deepEqual(oldest?.allocations, made[0]?.allocations);
    assert.equal(oldest?.receiptNumber, made[0]?.receiptNumber);
    assert.equal(oldest?.reference, null);

    const bad = await admin.get(`/families/${family.id}/payments?cursor=garbage`);
    assert.equal(bad.statusCode, 400);
    assert.equal(problemOf(bad).errors?.[0]?.field, 'cursor');
    assert.equal((await admin.get(`/families/${family.id}/payments?limit=501`)).statusCode, 400);
  });

  test('apply-credit: oldest due first as far as the credit goes; nothing to apply is a 200 with applied 0', async () => {
    const family = await createFamily(t.db, schoolA, { students: [{ firstName: 'Eva', lastName: 'Cruz' }, { firstName: 'Leo', lastName: 'Cruz' }] });
    const [eva = '', leo = ''] = family.students;
    // Credit first: a payment with nothing open.
    const prepaid = await pay(admin, family.id, { amount: 9_000, method: 'bank_transfer' });
    assert.equal(prepaid.json<FamilyPaymentBody>().credited, 9_000);

    const nothingOpen = await admin.post(`/families/${family.id}/apply-credit`, {});
    assert.equal(nothingOpen.statusCode, 200, nothingOpen.body);
    assert.deepEqual(nothingOpen.json<CreditAppliedBody>(), { familyId: family.id, applied: 0, applications: [], balance: { owed: 0, credit: 9_000 } });

    const base = { schoolId: schoolA, familyId: family.id };
    const later = await createInvoice(t.db, { ...base, studentId: eva, amount: 5_000, dueDate: day(30) });
    const sooner = await createInvoice(t.db, { ...base, studentId: leo, amount: 3_000, dueDate: day(10) });
    const latest = await createInvoice(t.db, { ...base, studentId: leo, amount: 4_000, dueDate: day(60) });

    // Only some invoices: the given ones, oldest due first whatever the order given.
    const some = await admin.post(`/families/${family.id}/apply-credit`, { invoiceIds: [later, sooner] });
    assert.equal(some.statusCode, 200, some.body);
    const someBody = some.json<CreditAppliedBody>();
    assert.deepEqual(someBody.applications.map((a) => [a.invoiceId, a.amount]), [
      [sooner, 3_000],
      [later, 5_000],
    ]);
    assert.equal(someBody.applied, 8_000);
    assert.deepEqual(someBody.balance, { owed: 4_000, credit: 1_000 });

    const rest = await root.post(`/families/${family.id}/apply-credit`, {});
    assert.deepEqual(rest.json<CreditAppliedBody>().applications.map((a) => [a.invoiceId, a.amount]), [[latest, 1_000]]);
    assert.deepEqual(rest.json<CreditAppliedBody>().balance, { owed: 3_000, credit: 0 });
    assert.deepEqual(await invoiceFigures(t.db, latest), { amount: 4_000, paid: 1_000, open: 3_000 });

    const noCredit = await admin.post(`/families/${family.id}/apply-credit`, {});
    assert.equal(noCredit.statusCode, 200);
    assert.equal(noCredit.json<CreditAppliedBody>().applied, 0);
    // No body at all is the same as {}.
    const bare = await t.app.inject({ method: 'POST', url: `/api/v1/families/${family.id}/apply-credit`, headers: { authorization: adminAuth } });
    assert.equal(bare.statusCode, 200, bare.body);
    assert.equal(bare.json<CreditAppliedBody>().applied, 0);

    const audit = await t.db.selectFrom('audit_log').select('action').where('entity_id', '=', family.id).where('action', '=', 'family_credit.apply').execute();
    assert.equal(audit.length, 2, 'one entry per application that moved credit');
    const applications = await t.db.selectFrom('credit_applications').select('amount').where('family_id', '=', family.id).execute();
    assert.deepEqual(applications.map((a) => a.amount).sort((a, b) => a - b), [1_000, 3_000, 5_000]);

    const invariant = await familyInvariant(t.db, family.id);
    assert.equal(invariant.left, invariant.right);
  });

  test('apply-credit: another family’s invoice is a 422 naming it; bad bodies are 400s naming the field', async () => {
    const family = await createFamily(t.db, schoolA);
    const other = await createFamily(t.db, schoolA);
    const theirs = await createInvoice(t.db, { schoolId: schoolA, familyId: other.id, studentId: other.students[0] ?? '', amount: 1_000, dueDate: day(5) });
    const mine = await createInvoice(t.db, { schoolId: schoolA, familyId: family.id, studentId: family.students[0] ?? '', amount: 1_000, dueDate: day(5) });
    await pay(admin, family.id, { amount: 1_500, method: 'cash' });

    const refused = await admin.post(`/families/${family.id}/apply-credit`, { invoiceIds: [mine, theirs] });
    assert.equal(refused.statusCode, 422, refused.body);
    assert.equal(problemOf(refused).errors?.[0]?.field, 'invoiceIds.1');
    for (const [body, field] of [
      [{ invoiceIds: [] }, 'invoiceIds'],
      [{ invoiceIds: ['x'] }, 'invoiceIds.0'],
      [{ invoiceIds: [mine, mine] }, 'invoiceIds'],
      [{ other: 1 }, 'other'],
    ] as const) {
      const response = await admin.post(`/families/${family.id}/apply-credit`, body);
      assert.equal(response.statusCode, 400, response.body);
      assert.ok(problemOf(response).errors?.some((error) => error.field === field), response.body);
    }
    assert.equal(await creditOf(t.db, family.id), 500, 'nothing applied by a refused request');
    assert.equal((await admin.post(`/families/${randomUUID()}/apply-credit`, {})).statusCode, 404);
  });
});
