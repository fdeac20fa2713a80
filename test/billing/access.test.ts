import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * Every role against every billing endpoint: tenant isolation (a school_admin of school
 * A gets 404 for anything of school B, and lists show only A), PII masking for the
 * finance analyst, 403 for roles without the permission and 401 without a token.
 */
type Role = 'super_admin' | 'school_admin' | 'finance_analyst' | 'developer' | 'guardian' | 'anonymous';
const ROLES: Role[] = ['super_admin', 'school_admin', 'finance_analyst', 'developer', 'guardian', 'anonymous'];

describe('billing access by role', () => {
  let t: TestApp;
  let fx: BillingFixture;
  const as = {} as Record<Role, Client>;

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    for (const role of ROLES.filter((r): r is Exclude<Role, 'anonymous'> => r !== 'anonymous')) {
      await insertUser(t.db, { username: `role.${role}`, role, schoolIds: role === 'school_admin' ? [fx.schoolA] : [] });
      as[role] = client(t.app, (await login(t.app, `role.${role}`)).accessToken);
    }
    as.anonymous = client(t.app, null);
  });
  after(() => t.close());

  const readExpect = (school: 'A' | 'B'): Record<Role, number> => ({
    super_admin: 200,
    school_admin: school === 'A' ? 200 : 404,
    finance_analyst: 200,
    developer: 403,
    // A guardian user sees their own family through the portal only: every staff route refuses it.
    guardian: 403,
    anonymous: 401,
  });

  const reads = (): { url: string; school: 'A' | 'B' }[] => [
    { url: `/schools/${fx.schoolA}`, school: 'A' },
    { url: `/schools/${fx.schoolB}`, school: 'B' },
    { url: `/schools/${fx.schoolA}/students`, school: 'A' },
    { url: `/schools/${fx.schoolB}/students`, school: 'B' },
    { url: `/students/${fx.students.anaA}`, school: 'A' },
    { url: `/students/${fx.students.carla}`, school: 'B' },
    { url: `/students/${fx.students.anaA}/invoices`, school: 'A' },
    { url: `/students/${fx.students.carla}/invoices`, school: 'B' },
    { url: `/invoices/${fx.invoices.overdueA}`, school: 'A' },
    { url: `/invoices/${fx.invoices.overdueB}`, school: 'B' },
    { url: `/invoices/${fx.invoices.paidA}/payments`, school: 'A' },
    { url: `/invoices/${fx.invoices.paidB}/payments`, school: 'B' },
    { url: `/payments/${fx.payments.paidA1}`, school: 'A' },
    { url: `/payments/${fx.payments.paidB}`, school: 'B' },
    { url: `/invoices?schoolId=${fx.schoolB}`, school: 'B' },
    { url: `/students?schoolId=${fx.schoolB}`, school: 'B' },
    { url: `/payments?schoolId=${fx.schoolB}`, school: 'B' },
  ];

  test('reads: every role × every object of school A and B', async () => {
    for (const { url, school } of reads()) {
      for (const role of ROLES) {
        const response = await as[role].get(url);
        assert.equal(response.statusCode, readExpect(school)[role], `${role} GET ${url}: ${response.body}`);
        if (response.statusCode >= 400) {
          assert.match(String(response.headers['content-type']), /application\/problem\+json/);
        }
      }
    }
  });

  test('lists: a school_admin sees only their school, others see both, developer, guardian and anonymous none', async () => {
    for (const url of ['/schools', '/students', '/invoices', '/payments']) {
      for (const role of ROLES) {
        const response = await as[role].get(`${url}?limit=500`);
        if (role === 'developer' || role === 'guardian' || role === 'anonymous') {
          assert.equal(response.statusCode, role === 'anonymous' ? 401 : 403, `${role} ${url}`);
          continue;
        }
        assert.equal(response.statusCode, 200);
        const rows = response.json<{ data: { id: string; schoolId?: string }[] }>().data;
        const schools = new Set(rows.map((row) => row.schoolId ?? row.id));
        if (role === 'school_admin') {
          assert.deepEqual([...schools], [fx.schoolA], `${role} ${url}`);
        } else {
          assert.ok(schools.has(fx.schoolA) && schools.has(fx.schoolB), `${role} ${url}`);
        }
      }
    }
  });

  test('finance_analyst sees PII masked; admins see it in clear', async () => {
    const masked = (await as.finance_analyst.get(`/students/${fx.students.anaA}`)).json<{ firstName: string; lastName: string; email: string }>();
    assert.deepEqual([masked.firstName, masked.lastName, masked.email], ['A.', 'A.', 'a***@f***.example']);
    const listed = (await as.finance_analyst.get(`/students?schoolId=${fx.schoolA}`)).json<{ data: { firstName: string; email: string }[] }>();
    assert.ok(listed.data.length > 0);
    assert.ok(listed.data.every((s) => /^\p{Lu}\.$/u.test(s.firstName) && s.email.includes('***')));
    const payment = (await as.finance_analyst.get(`/payments/${fx.payments.paidA1}`)).json<{ reference: string }>();
    assert.match(payment.reference, /^\*\*\*.{4}$/);
    const payments = (await as.finance_analyst.get('/payments?limit=500')).json<{ data: { reference: string | null }[] }>();
    assert.ok(payments.data.every((p) => p.reference === null || p.reference.startsWith('***')));

    const clear = (await as.school_admin.get(`/students/${fx.students.anaA}`)).json<{ firstName: string; email: string }>();
    assert.deepEqual([clear.firstName, clear.email], ['Ana', 'ana.alvarez@families.example']);
    const adminPayment = (await as.super_admin.get(`/payments/${fx.payments.paidA1}`)).json<{ reference: string }>();
    assert.doesNotMatch(adminPayment.reference, /\*/);
  });

  test('writes: admins in scope succeed; out of scope 404; analyst and developer 403; anonymous 401', async () => {
    // Fresh objects per role so the writes do not depend on each other.
    const owner = as.super_admin;
    const target = async (school: 'A' | 'B') => {
      const schoolId = school === 'A' ? fx.schoolA : fx.schoolB;
      const student = (await owner.post('/students', { schoolId, firstName: 'W', lastName: 'R', grade: '1' })).json<{ id: string }>();
      const invoice = (await owner.post('/invoices', { studentId: student.id, amount: 1_000, dueDate: '2099-01-01' })).json<{ id: string }>();
      const spare = (await owner.post('/invoices', { studentId: student.id, amount: 1_000, dueDate: '2099-01-01' })).json<{ id: string }>();
      const payment = (await owner.pay({ invoiceId: invoice.id, amount: 500, method: 'cash' })).json<{ id: string }>();
      return { schoolId, studentId: student.id, invoiceId: invoice.id, spareId: spare.id, paymentId: payment.id };
    };
    const expectFor = (role: Role, school: 'A' | 'B', ok: number) =>
      ({ super_admin: ok, school_admin: school === 'A' ? ok : 404, finance_analyst: 403, developer: 403, guardian: 403, anonymous: 401 })[role];

    for (const school of ['A', 'B'] as const) {
      for (const role of ROLES) {
        const ids = await target(school);
        const api = as[role];
        const cases: [string, () => ReturnType<Client['get']>, number][] = [
          ['POST /students', () => api.post('/students', { schoolId: ids.schoolId, firstName: 'N', lastName: 'N', grade: '1' }), 201],
          ['PATCH /students/:id', () => api.patch(`/students/${ids.studentId}`, { grade: '2' }), 200],
          ['PUT /students/:id', () => api.put(`/students/${ids.studentId}`, { firstName: 'N', lastName: 'N', grade: '3' }), 200],
          ['PATCH /schools/:id', () => api.patch(`/schools/${ids.schoolId}`, { phone: '+1 555 0100' }), 200],
          ['POST /invoices', () => api.post('/invoices', { studentId: ids.studentId, amount: 100, dueDate: '2099-01-01' }), 201],
          ['PATCH /invoices/:id', () => api.patch(`/invoices/${ids.invoiceId}`, { description: 'changed' }), 200],
          ['POST /payments', () => api.pay({ invoiceId: ids.invoiceId, amount: 100, method: 'card' }), 201],
          ['POST /payments/:id/refunds', () => api.refund(ids.paymentId, { amount: 50 }), 201],
          ['DELETE /invoices/:id', () => api.delete(`/invoices/${ids.spareId}`), 200],
        ];
        for (const [name, run, ok] of cases) {
          const response = await run();
          assert.equal(response.statusCode, expectFor(role, school, ok), `${role} ${name} in school ${school}: ${response.body}`);
        }
        // Nothing was written by a refused caller.
        if (expectFor(role, school, 200) !== 200) {
          const invoice = await t.db.selectFrom('invoices').select(['paid_amount', 'description', 'cancelled_at']).where('id', 'in', [ids.invoiceId, ids.spareId]).execute();
          assert.deepEqual(invoice.map((i) => [i.paid_amount, i.description, i.cancelled_at]).sort(), [[0, null, null], [500, null, null]].sort());
        }
      }
    }
  });

  test('creating and deleting schools is for super_admin only', async () => {
    for (const role of ROLES) {
      const response = await as[role].post('/schools', { name: `By ${role}` });
      const expected = { super_admin: 201, school_admin: 403, finance_analyst: 403, developer: 403, guardian: 403, anonymous: 401 }[role];
      assert.equal(response.statusCode, expected, role);
    }
    const doomed = (await as.super_admin.post('/schools', { name: 'Doomed' })).json<{ id: string }>();
    for (const role of ['school_admin', 'finance_analyst', 'developer'] as const) {
      assert.equal((await as[role].delete(`/schools/${doomed.id}`)).statusCode, 403);
    }
    assert.equal((await as.super_admin.delete(`/schools/${doomed.id}`)).statusCode, 204);
  });

  test('an idempotency key of one caller never replays to another', async () => {
    const key = randomUUID();
    const body = { invoiceId: fx.invoices.overdueA, amount: 1, method: 'cash' };
    const first = await as.super_admin.pay(body, key);
    assert.equal(first.statusCode, 201);
    const other = await as.school_admin.pay(body, key);
    assert.equal(other.statusCode, 201);
    assert.notEqual(other.json<{ id: string }>().id, first.json<{ id: string }>().id);
    const analyst = await as.finance_analyst.pay(body, key);
    assert.equal(analyst.statusCode, 403);
    assert.equal(problemOf(analyst).code, 'FORBIDDEN');
  });
});
