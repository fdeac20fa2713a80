import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
interface School {
  id: string;
  name: string;
  currency: string;
  timezone: string;
  email: string | null;
  isActive: boolean;
}
interface Student {
  id: string;
  schoolId: string;
  firstName: string;
  grade: string;
}
interface Invoice {
  id: string;
  number: string;
  status: string;
  studentId: string;
  schoolId: string;
}

describe('billing CRUD', () => {
  let t: TestApp;
  let api: Client;
  let fx: BillingFixture;

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  after(() => t.close());

  async function walk<T extends { id: string }>(url: string): Promise<T[]> {
    const rows: T[] = [];
    let cursor: string | null = null;
    do {
      const separator = url.includes('?') ? '&' : '?';
      const response = await api.get(`${url}${separator}limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<Page<T>>();
      rows.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    return rows;
  }

  describe('schools', () => {
    test('create with defaults, read, list with a name filter', async () => {
      const created = await api.post('/schools', { name: '  Escuela Nueva ', email: 'pagos@nueva.example' });
      assert.equal(created.statusCode, 201);
      const school = created.json<School>();
      assert.equal(school.name, 'Escuela Nueva');
      assert.equal(school.currency, 'MXN');
      assert.equal(school.timezone, 'America/Mexico_City');
      assert.deepEqual((await api.get(`/schools/${school.id}`)).json<School>(), school);
      const found = (await api.get('/schools?q=nueva')).json<Page<School>>();
      assert.deepEqual(found.data.map((s) => s.id), [school.id]);
    });

    test('currency and time zone are validated', async () => {
      const currency = await api.post('/schools', { name: 'X', currency: 'XYZ' });
      assert.equal(currency.statusCode, 400);
      assert.equal(problemOf(currency).errors?.[0]?.field, 'currency');
      const zone = await api.post('/schools', { name: 'X', timezone: 'Mars/Olympus' });
      assert.equal(zone.statusCode, 400);
      assert.equal(problemOf(zone).errors?.[0]?.field, 'timezone');
      const email = await api.post('/schools', { name: 'X', email: 'not-an-email' });
      assert.equal(problemOf(email).errors?.[0]?.field, 'email');
    });

    test('PUT replaces, PATCH changes only what is given', async () => {
      const school = (await api.post('/schools', { name: 'Replace Me', phone: '+1 555', currency: 'USD', timezone: 'America/New_York' })).json<School>();
      const patched = (await api.patch(`/schools/${school.id}`, { name: 'Patched' })).json<School & { phone: string }>();
      assert.equal(patched.name, 'Patched');
      assert.equal(patched.phone, '+1 555');
      assert.equal(patched.currency, 'USD', 'a partial update touches nothing else (no injected defaults)');
      const replaced = (await api.put(`/schools/${school.id}`, { name: 'Replaced', currency: 'USD', timezone: 'America/New_York' })).json<School & { phone: string | null }>();
      assert.equal(replaced.name, 'Replaced');
      assert.equal(replaced.phone, null);
    });

    test('a school’s language: by currency unless given; PATCH changes it, PUT without it goes back to the currency’s; anything but es|en is a 400', async () => {
      const language = async (body: Record<string, unknown>) => {
        const created = await api.post('/schools', { name: 'Idioma', ...body });
        assert.equal(created.statusCode, 201, created.body);
        return created.json<School & { language: string }>();
      };
      assert.equal((await language({})).language, 'es', 'MXN (the default currency) writes Spanish');
      assert.equal((await language({ currency: 'COP', timezone: 'America/Bogota' })).language, 'es');
      const us = await language({ currency: 'USD', timezone: 'America/New_York' });
      assert.equal(us.language, 'en');
      assert.equal((await language({ currency: 'USD', timezone: 'America/Chicago', language: 'es' })).language, 'es', 'given, it wins over the currency');
      const patched = (await api.patch(`/schools/${us.id}`, { language: 'es' })).json<School & { language: string }>();
      assert.equal(patched.language, 'es');
      assert.equal((await api.patch(`/schools/${us.id}`, { name: 'Idioma US' })).json<{ language: string }>().language, 'es', 'a PATCH without it keeps it');
      const replaced = (await api.put(`/schools/${us.id}`, { name: 'Idioma US', currency: 'USD', timezone: 'America/New_York' })).json<{ language: string }>();
      assert.equal(replaced.language, 'en', 'PUT resets what it omits: the currency’s language');
      const mistyped = await language({ name: 'Idioma NY' });
      const fixed = (await api.patch(`/schools/${mistyped.id}`, { currency: 'USD', timezone: 'America/New_York' })).json<{ language: string }>();
      assert.equal(fixed.language, 'en', 'a school set up with the wrong currency gets the right one’s language with it');
      const chosen = (await api.patch(`/schools/${mistyped.id}`, { currency: 'MXN', language: 'en' })).json<{ language: string }>();
      assert.equal(chosen.language, 'en', 'unless the request names one');
      const bad = await api.post('/schools', { name: 'X', language: 'fr' });
      assert.equal(bad.statusCode, 400);
      assert.equal(problemOf(bad).errors?.[0]?.field, 'language');
    });

    test('the currency of a school with invoices cannot change', async () => {
      const response = await api.patch(`/schools/${fx.schoolA}`, { currency: 'USD' });
      assert.equal(response.statusCode, 409);
      assert.equal(problemOf(response).errors?.[0]?.field, 'currency');
    });

    test('soft delete: refused while money is owed; afterwards hidden and 404', async () => {
      assert.equal((await api.delete(`/schools/${fx.schoolB}`)).statusCode, 409);
      const empty = (await api.post('/schools', { name: 'Closing Down' })).json<School>();
      assert.equal((await api.delete(`/schools/${empty.id}`)).statusCode, 204);
      assert.equal((await api.get(`/schools/${empty.id}`)).statusCode, 404);
      const all = await walk<School>('/schools');
      assert.ok(!all.some((s) => s.id === empty.id));
      assert.ok(all.some((s) => s.id === fx.schoolA));
    });
  });

  describe('students', () => {
    test('enrol, read, update, list by school and grade', async () => {
      const created = await api.post('/students', { schoolId: fx.schoolA, firstName: 'Eva', lastName: 'Estrada', grade: '5', email: 'eva@families.example' });
      assert.equal(created.statusCode, 201);
      const eva = created.json<Student>();
      assert.equal(eva.schoolId, fx.schoolA);
      const patched = await api.patch(`/students/${eva.id}`, { grade: '6' });
      assert.equal(patched.json<Student>().grade, '6');
      const inSchool = await walk<Student>(`/schools/${fx.schoolA}/students`);
      assert.ok(inSchool.some((s) => s.id === eva.id));
      assert.ok(inSchool.every((s) => s.schoolId === fx.schoolA));
      const grade5 = await walk<Student>(`/students?schoolId=${fx.schoolA}&grade=5`);
      assert.deepEqual(grade5.map((s) => s.id), [fx.students.beto]);
    });

    test('an unknown school is a 404; bad fields are 400 naming them', async () => {
      const unknown = await api.post('/students', { schoolId: '01890000-0000-7000-8000-000000000000', firstName: 'A', lastName: 'B', grade: '1' });
      assert.equal(unknown.statusCode, 404);
      const bad = await api.post('/students', { schoolId: fx.schoolA, firstName: '', lastName: 'B' });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(problemOf(bad).errors?.map((e) => e.field).sort(), ['firstName', 'grade']);
    });

    test('soft delete is refused while the student owes money', async () => {
      const response = await api.delete(`/students/${fx.students.anaA}`);
      assert.equal(response.statusCode, 409);
      const free = (await api.post('/students', { schoolId: fx.schoolB, firstName: 'Gone', lastName: 'Soon', grade: '2' })).json<Student>();
      assert.equal((await api.delete(`/students/${free.id}`)).statusCode, 204);
      assert.equal((await api.get(`/students/${free.id}`)).statusCode, 404);
    });
  });

  describe('invoices', () => {
    test('numbers are generated per school in sequence; an explicit duplicate is a 409 naming number', async () => {
      const school = (await api.post('/schools', { name: 'Numbered' })).json<School>();
      const student = (await api.post('/students', { schoolId: school.id, firstName: 'N', lastName: 'N', grade: '1' })).json<Student>();
      const first = (await api.post('/invoices', { studentId: student.id, amount: 100, dueDate: '2099-01-01' })).json<Invoice>();
      const second = (await api.post('/invoices', { studentId: student.id, amount: 100, dueDate: '2099-02-01' })).json<Invoice>();
      assert.deepEqual([first.number, second.number], ['INV-000001', 'INV-000002']);
      const duplicate = await api.post('/invoices', { studentId: student.id, amount: 100, dueDate: '2099-03-01', number: 'INV-000001' });
      assert.equal(duplicate.statusCode, 409);
      assert.deepEqual(problemOf(duplicate).errors?.map((e) => e.field), ['number']);
    });

    test('an inactive student cannot be billed', async () => {
      const student = (await api.post('/students', { schoolId: fx.schoolA, firstName: 'I', lastName: 'Nactive', grade: '1', isActive: false })).json<Student>();
      const response = await api.post('/invoices', { studentId: student.id, amount: 100, dueDate: '2099-01-01' });
      assert.equal(response.statusCode, 422);
      assert.equal(problemOf(response).errors?.[0]?.field, 'studentId');
    });

    test('?status= filters by the derived status, OVERDUE included, without any job', async () => {
      const expected: Record<string, string[]> = {
        PAID: [fx.invoices.paidA, fx.invoices.paidB],
        OVERDUE: [fx.invoices.overdueA, fx.invoices.overdueB],
        PENDING: [fx.invoices.pendingA],
        PARTIAL: [fx.invoices.partialA],
        CANCELLED: [fx.invoices.cancelledA],
      };
      for (const [status, ids] of Object.entries(expected)) {
        const rows = await walk<Invoice>(`/invoices?status=${status}`);
        assert.deepEqual(rows.filter((r) => Object.values(fx.invoices).includes(r.id)).map((r) => r.id).sort(), [...ids].sort(), status);
        assert.ok(rows.every((r) => r.status === status));
      }
      // A pending invoice whose due date passes becomes OVERDUE on the next read.
      await t.db.updateTable('invoices').set({ due_date: fx.past }).where('id', '=', fx.invoices.pendingA).execute();
      assert.equal((await api.get(`/invoices/${fx.invoices.pendingA}`)).json<Invoice>().status, 'OVERDUE');
      await t.db.updateTable('invoices').set({ due_date: fx.future }).where('id', '=', fx.invoices.pendingA).execute();
    });

    test('filters by school, student and due range; dueFrom after dueTo is a 400', async () => {
      const inB = await walk<Invoice>(`/invoices?schoolId=${fx.schoolB}`);
      assert.deepEqual(inB.map((r) => r.id).sort(), [fx.invoices.overdueB, fx.invoices.paidB].sort());
      const ana = await walk<Invoice>(`/students/${fx.students.anaA}/invoices`);
      assert.deepEqual(ana.map((r) => r.id).sort(), [fx.invoices.paidA, fx.invoices.overdueA].sort());
      const future = await walk<Invoice>(`/invoices?schoolId=${fx.schoolA}&dueFrom=${fx.future}&dueTo=${fx.future}`);
      assert.deepEqual(future.map((r) => r.id).sort(), [fx.invoices.pendingA, fx.invoices.partialA, fx.invoices.cancelledA].sort());
      const backwards = await api.get(`/invoices?dueFrom=${fx.future}&dueTo=${fx.past}`);
      assert.equal(backwards.statusCode, 400);
      assert.equal(problemOf(backwards).errors?.[0]?.field, 'dueFrom');
      const badStatus = await api.get('/invoices?status=LATE');
      assert.equal(problemOf(badStatus).errors?.[0]?.field, 'status');
    });

    test('a cancelled invoice cannot be patched', async () => {
      const response = await api.patch(`/invoices/${fx.invoices.cancelledA}`, { amount: 1 });
      assert.equal(response.statusCode, 409);
      assert.equal(problemOf(response).code, 'INVOICE_CANCELLED');
    });
  });

  test('OVERDUE is decided in the school’s time zone', async () => {
    // 2026-03-11 03:00 UTC is still 2026-03-10 in Mexico City (UTC−6) but already the 11th in UTC.
    const at = '2026-03-11T03:00:00Z';
    const status = async (tz: string) =>
      (await sql<{ s: string }>`select invoice_status(100, 0, '2026-03-10'::date, null, ${tz}, ${at}::timestamptz) as s`.execute(t.db)).rows[0]?.s;
    assert.equal(await status('America/Mexico_City'), 'PENDING');
    assert.equal(await status('UTC'), 'OVERDUE');
    assert.equal(await status('Asia/Tokyo'), 'OVERDUE');
    const partial = (await sql<{ s: string }>`select invoice_status(100, 40, '2099-01-01'::date, null, 'UTC') as s`.execute(t.db)).rows[0]?.s;
    assert.equal(partial, 'PARTIAL');
  });

  test('writes are audited with school and request id', async () => {
    const response = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/students/${fx.students.dora}`,
      headers: { authorization: `Bearer ${(await login(t.app, 'root')).accessToken}`, 'x-request-id': 'crud-audit-1' },
      payload: { grade: '8' },
    });
    assert.equal(response.statusCode, 200);
    const rows = await t.db.selectFrom('audit_log').select(['action', 'school_id', 'entity_id']).where('request_id', '=', 'crud-audit-1').execute();
    assert.deepEqual(rows, [{ action: 'student.update', school_id: fx.schoolB, entity_id: fx.students.dora }]);
  });
});
