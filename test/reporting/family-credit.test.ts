import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { FAMILY_CREDIT_GRADE, verifyRollups, formatReport } from '../../src/modules/reporting/rollups.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

/**
 * Money a family pays ahead is money received (migration 0020): the part of a family
 * payment no invoice takes (family credit) counts as collected on the day it was paid,
 * with its method, under FAMILY_CREDIT_GRADE — in the dashboard, the daily collections
 * and the monthly revenue; applying the credit later moves no money and counts nothing.
 *
 * Through the API, one MXN school:
 *   family A (student in grade 4, one invoice of 5 000): family payment 8 000 by bank
 *     transfer → 5 000 on the invoice, 3 000 family credit;
 *   family B (nothing open): family payment 2 000 in cash → all of it family credit.
 * Collected: 10 000 (grade 4: 5 000; family credit: 5 000); bank transfer 8 000 in
 * 1 payment, cash 2 000 in 1 (a family payment wholly to credit counts as one).
 */
describe('family credit is collected money (dashboard, daily and monthly reports, rollups)', () => {
  let t: TestApp;
  let api: Client;
  let schoolId = '';
  let familyA = '';
  let studentA = '';

  const today = () => new Date().toLocaleDateString('en-CA', { timeZone: 'America/Mexico_City' });
  const dashboard = async (query = '') => {
    const response = await api.get(`/reports/dashboard?schoolId=${schoolId}${query}`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{
      totals: { amountCollected: number | null };
      byPaymentMethod: { method: string; amount: number; count: number }[];
      byGrade: { grade: string; amountCollected: number; amountDue: number }[];
    }>();
  };
  const familyPay = async (familyId: string, amount: number, method: string) => {
    const response = await api.post(`/families/${familyId}/payments`, { amount, method }, { 'idempotency-key': randomUUID() });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ allocated: number; credited: number }>();
  };

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'credit.root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'credit.root')).accessToken);
    schoolId = (await api.post('/schools', { name: 'Colegio Anticipo', currency: 'MXN', timezone: 'America/Mexico_City' })).json<{ id: string }>().id;
    const family = async (name: string) => {
      const response = await api.post('/families', { schoolId, name });
      assert.equal(response.statusCode, 201, response.body);
      return response.json<{ id: string }>().id;
    };
    familyA = await family('Familia Anticipo');
    const familyB = await family('Familia Prepago');
    studentA = (await api.post('/students', { schoolId, firstName: 'Ana', lastName: 'Anticipo', grade: '4', familyId: familyA })).json<{ id: string }>().id;
    const invoice = await api.post('/invoices', { studentId: studentA, amount: 5_000, dueDate: today(), description: 'Colegiatura' });
    assert.equal(invoice.statusCode, 201, invoice.body);
    assert.deepEqual(await familyPay(familyA, 8_000, 'bank_transfer').then(({ allocated, credited }) => [allocated, credited]), [5_000, 3_000]);
    assert.deepEqual(await familyPay(familyB, 2_000, 'cash').then(({ allocated, credited }) => [allocated, credited]), [0, 2_000]);
  });
  after(() => t.close());

  test('the dashboard counts the credit as collected: totals, by method (with counts), by grade under the family-credit key', async () => {
    for (const query of ['', `&from=${today()}&to=${today()}`]) {
      const body = await dashboard(query);
      assert.equal(body.totals.amountCollected, 10_000, query);
      const method = (name: string) => body.byPaymentMethod.find((row) => row.method === name);
      assert.deepEqual([method('bank_transfer')?.amount, method('bank_transfer')?.count], [8_000, 1], query);
      assert.deepEqual([method('cash')?.amount, method('cash')?.count], [2_000, 1], query);
      const grade = (name: string) => body.byGrade.find((row) => row.grade === name);
      assert.equal(grade('4')?.amountCollected, 5_000, query);
      assert.deepEqual([grade(FAMILY_CREDIT_GRADE)?.amountCollected, grade(FAMILY_CREDIT_GRADE)?.amountDue], [5_000, 0], query);
    }
    // A grade filter leaves the credit out: it belongs to no student.
    assert.equal((await dashboard('&grade=4')).totals.amountCollected, 5_000);
  });

  test('the daily collections and the monthly revenue count it on the day and month it was paid', async () => {
    const daily = await api.get(`/reports/collections/daily?schoolId=${schoolId}`);
    assert.equal(daily.statusCode, 200, daily.body);
    const day = daily.json<{ data: { date: string; paymentCount: number; collected: number; net: number }[] }>().data.find((row) => row.date === today());
    assert.deepEqual([day?.collected, day?.net, day?.paymentCount], [10_000, 10_000, 2]);
    const monthly = await api.get(`/reports/revenue/monthly?schoolId=${schoolId}`);
    assert.equal(monthly.statusCode, 200, monthly.body);
    const month = monthly.json<{ data: { month: string; collected: number }[] }>().data.find((row) => row.month === today().slice(0, 7));
    assert.equal(month?.collected, 10_000);
  });

  test('applying the credit moves no money: collected is unchanged; the rollups equal a full recomputation and a refresh', async () => {
    const next = await api.post('/invoices', { studentId: studentA, amount: 1_000, dueDate: today(), description: 'Transporte' });
    assert.equal(next.statusCode, 201, next.body);
    const applied = await api.post(`/families/${familyA}/apply-credit`, {});
    assert.equal(applied.statusCode, 200, applied.body);
    assert.equal(applied.json<{ applied: number }>().applied, 1_000);
    assert.equal((await dashboard()).totals.amountCollected, 10_000);

    const report = await verifyRollups(t.db);
    assert.ok(report.ok, formatReport(report));
    const before = await sql<{ rows: string }>`select json_agg(r order by r.grade, r.method, r.paid_on)::text as rows from payment_rollups r where school_id = ${schoolId}`.execute(t.db);
    await sql`select refresh_reporting_rollups(${schoolId}::uuid)`.execute(t.db);
    const after = await sql<{ rows: string }>`select json_agg(r order by r.grade, r.method, r.paid_on)::text as rows from payment_rollups r where school_id = ${schoolId}`.execute(t.db);
    assert.equal(after.rows[0]?.rows, before.rows[0]?.rows);
    assert.match(after.rows[0]?.rows ?? '', /family credit, no grade/);
  });
});
