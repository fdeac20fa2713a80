import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { maskChanges } from '../../src/modules/audit/audit.service.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

interface Entry {
  id: string;
  action: string;
  entityType: string;
  entityId: string | null;
  schoolId: string | null;
  actor: { userId: string | null; username: string | null };
  requestId: string | null;
  changes: Record<string, unknown> | null;
  createdAt: string;
}
interface Page {
  data: Entry[];
  nextCursor: string | null;
}

/** SPEC §9 "Audit log": GET /audit, scoped by school, keyset-paginated, bad filters named. */
describe('GET /audit', () => {
  let t: TestApp;
  let f: BillingFixture;
  let root: Client;
  let adminA: Client;
  const invoices: string[] = [];

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin.a', role: 'school_admin', schoolIds: [f.schoolA] });
    for (const role of ['finance_analyst', 'developer'] as const) {
      await insertUser(t.db, { username: role, role });
    }
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    adminA = client(t.app, (await login(t.app, 'admin.a')).accessToken);
    // Seven invoices in school A and one in B, written through the API (each audited); a user (no school).
    for (let i = 0; i < 7; i++) {
      const response = await adminA.post('/invoices', { studentId: f.students.anaA, amount: 1_000 + i, dueDate: f.future, description: `Uniform ${i}` });
      assert.equal(response.statusCode, 201, response.body);
      invoices.push(response.json<{ id: string }>().id);
    }
    const other = await root.post('/invoices', { studentId: f.students.carla, amount: 2_000, dueDate: f.future });
    assert.equal(other.statusCode, 201, other.body);
    const user = await root.post('/users', { username: 'new.analyst', password: 'Correct-Horse-9-long', role: 'finance_analyst' });
    assert.equal(user.statusCode, 201, user.body);
  });

  after(async () => {
    await t?.close();
  });

  test('an entity’s history: what was done, by whom, from which request, newest first', async () => {
    const invoice = invoices[3] as string;
    const paid = await adminA.pay({ invoiceId: invoice, amount: 500, method: 'cash' });
    assert.equal(paid.statusCode, 201, paid.body);
    const response = await root.get(`/audit?entityType=invoice&entityId=${invoice}`);
    assert.equal(response.statusCode, 200, response.body);
    const page = response.json<Page>();
    assert.ok(page.data.length >= 1);
    const created = page.data.find((entry) => entry.action === 'invoice.create');
    assert.ok(created, JSON.stringify(page.data.map((entry) => entry.action)));
    assert.equal(created.entityId, invoice);
    assert.equal(created.schoolId, f.schoolA);
    assert.equal(created.actor.username, 'admin.a');
    assert.ok(created.actor.userId && created.requestId);
    assert.ok(!Number.isNaN(Date.parse(created.createdAt)));
    assert.ok(page.data.every((entry) => entry.entityType === 'invoice' && entry.entityId === invoice));
  });

  test('keyset pages: newest first, no entry twice or skipped, the last page ends the list', async () => {
    const all = (await root.get(`/audit?schoolId=${f.schoolA}&entityType=invoice&limit=500`)).json<Page>().data;
    const seen: Entry[] = [];
    let cursor: string | null = null;
    do {
      const response = await root.get(`/audit?schoolId=${f.schoolA}&entityType=invoice&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<Page>();
      assert.ok(page.data.length <= 3);
      seen.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(seen.map((entry) => entry.id), all.map((entry) => entry.id));
    assert.ok(all.length >= 7);
    const ids = all.map((entry) => entry.id);
    assert.deepEqual([...ids].sort().reverse(), ids, 'newest first');
    // The newest invoice's creation comes before the oldest one's.
    const position = (id: string) => all.findIndex((entry) => entry.entityId === id && entry.action === 'invoice.create');
    assert.ok(position(invoices[6] as string) < position(invoices[0] as string));
  });

  test('a school admin sees their schools only: never another school’s entries nor platform ones', async () => {
    const mine = (await adminA.get('/audit?limit=500')).json<Page>().data;
    assert.ok(mine.length >= 7);
    assert.ok(mine.every((entry) => entry.schoolId === f.schoolA), JSON.stringify(mine.filter((entry) => entry.schoolId !== f.schoolA)));
    const everything = (await root.get('/audit?limit=500')).json<Page>().data;
    assert.ok(everything.some((entry) => entry.schoolId === f.schoolB));
    assert.ok(everything.some((entry) => entry.schoolId === null && entry.entityType === 'user'));
    const other = await adminA.get(`/audit?schoolId=${f.schoolB}`);
    assert.equal(other.statusCode, 404, other.body);
    // Asking for another school's invoice by id finds nothing (no existence leak).
    const otherInvoice = everything.find((entry) => entry.schoolId === f.schoolB && entry.entityType === 'invoice');
    assert.ok(otherInvoice);
    const history = await adminA.get(`/audit?entityType=invoice&entityId=${otherInvoice.entityId}`);
    assert.deepEqual(history.json<Page>().data, []);
  });

  test('other roles may not read it', async () => {
    for (const username of ['finance_analyst', 'developer']) {
      const response = await client(t.app, (await login(t.app, username)).accessToken).get('/audit');
      assert.equal(response.statusCode, 403, `${username}: ${response.body}`);
    }
    assert.equal((await client(t.app, null).get('/audit')).statusCode, 401);
  });

  test('from and to bound when entries were written', async () => {
    const all = (await root.get(`/audit?schoolId=${f.schoolA}&limit=500`)).json<Page>().data;
    const middle = all[Math.floor(all.length / 2)] as Entry;
    const later = (await root.get(`/audit?schoolId=${f.schoolA}&limit=500&from=${encodeURIComponent(middle.createdAt)}`)).json<Page>().data;
    assert.ok(later.length > 0 && later.every((entry) => entry.createdAt >= middle.createdAt));
    const earlier = (await root.get(`/audit?schoolId=${f.schoolA}&limit=500&to=${encodeURIComponent(middle.createdAt)}`)).json<Page>().data;
    assert.ok(earlier.every((entry) => entry.createdAt < middle.createdAt));
    assert.equal(later.length + earlier.length, all.length);
  });

  test('bad filters are a 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['/audit?entityId=abc', 'entityId'],
      ['/audit?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', 'from'],
      ['/audit?from=yesterday', 'from'],
      ['/audit?entityType=Invoice%3Bdrop', 'entityType'],
      ['/audit?schoolId=not-a-uuid', 'schoolId'],
      ['/audit?cursor=bogus', 'cursor'],
      ['/audit?limit=100000', 'limit'],
      ['/audit?colour=red', 'colour'],
    ];
    for (const [url, field] of cases) {
      const response = await root.get(url);
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
      assert.match(response.headers['content-type'] as string, /problem\+json/);
      assert.ok(JSON.stringify(response.json()).includes(field), `${url} names ${field}: ${response.body}`);
    }
  });

  test('maskChanges masks names, e-mails and phones wherever they are nested', () => {
    assert.deepEqual(
      maskChanges({ firstName: 'Rosa', lastName: 'Vega', email: 'rosa.vega@correo.mx', amount: 500, guardians: [{ phone: '+52 55 1234 5678', name: 'Luis Vega' }], recipient: 'luis@x.mx' }),
      { firstName: 'R.', lastName: 'V.', email: 'r***@c***.mx', amount: 500, guardians: [{ phone: '***78', name: 'L.' }], recipient: 'l***@x***.mx' },
    );
  });
});
