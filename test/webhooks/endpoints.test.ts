import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  schoolIds: string[] | null;
  enabled: boolean;
  secret?: string;
  owner: { userId: string; username: string };
}

/** SPEC §9 outbound webhooks: the endpoints API, its access rules, bad input and SSRF refusals. */
describe('webhook endpoints API', () => {
  let t: TestApp;
  let f: BillingFixture;
  let root: Client;
  let adminA: Client;
  let adminB: Client;

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin.a', role: 'school_admin', schoolIds: [f.schoolA] });
    await insertUser(t.db, { username: 'admin.b', role: 'school_admin', schoolIds: [f.schoolB] });
    for (const role of ['finance_analyst', 'developer'] as const) {
      await insertUser(t.db, { username: role.replace('_', '.'), role });
    }
    await insertUser(t.db, { username: 'parent', role: 'guardian' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    adminA = client(t.app, (await login(t.app, 'admin.a')).accessToken);
    adminB = client(t.app, (await login(t.app, 'admin.b')).accessToken);
  });
  after(async () => {
    await t?.close();
  });

  test('create answers the secret once (whsec_ + base64 of 32 bytes); reads never show it; the change is audited without it', async () => {
    const created = await adminA.post('/webhook-endpoints', { url: 'https://93.184.215.14/hooks', events: ['invoice.created', 'payment.succeeded'], schoolIds: [f.schoolA] });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json<Endpoint>();
    assert.match(body.secret ?? '', /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from((body.secret ?? '').slice('whsec_'.length), 'base64').length, 32);
    assert.deepEqual(body.events, ['invoice.created', 'payment.succeeded']);
    assert.equal(body.owner.username, 'admin.a');

    const read = await adminA.get(`/webhook-endpoints/${body.id}`);
    assert.equal(read.statusCode, 200);
    assert.equal(read.json<Endpoint>().secret, undefined);
    assert.ok(!read.body.includes(body.secret ?? 'x'));
    const list = await adminA.get('/webhook-endpoints');
    assert.ok(list.json<{ data: Endpoint[] }>().data.some((e) => e.id === body.id));
    assert.ok(!list.body.includes(body.secret ?? 'x'));

    const audit = await t.db.selectFrom('audit_log').selectAll().where('entity_type', '=', 'webhook_endpoint').where('entity_id', '=', body.id).execute();
    assert.deepEqual(audit.map((a) => a.action), ['webhook_endpoint.create']);
    assert.ok(!JSON.stringify(audit).includes(body.secret ?? 'x'));

    const rotated = await adminA.post(`/webhook-endpoints/${body.id}/rotate-secret`, {});
    assert.equal(rotated.statusCode, 200, rotated.body);
    const secret = rotated.json<{ secret: string }>().secret;
    assert.match(secret, /^whsec_/);
    assert.notEqual(secret, body.secret);
    const stored = await t.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', body.id).executeTakeFirstOrThrow();
    assert.equal(stored.secret, secret);

    const patched = await adminA.patch(`/webhook-endpoints/${body.id}`, { events: ['refund.created'], enabled: false });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(patched.json<Endpoint>().events, ['refund.created']);
    assert.equal(patched.json<Endpoint>().enabled, false);

    const deleted = await adminA.delete(`/webhook-endpoints/${body.id}`);
    assert.equal(deleted.statusCode, 204);
    assert.equal((await adminA.get(`/webhook-endpoints/${body.id}`)).statusCode, 404);
    const actions = (await t.db.selectFrom('audit_log').select('action').where('entity_id', '=', body.id).orderBy('occurred_at').execute()).map((a) => a.action);
    assert.deepEqual(actions, ['webhook_endpoint.create', 'webhook_endpoint.rotate_secret', 'webhook_endpoint.update', 'webhook_endpoint.delete']);
  });

  test('another school’s endpoint is 404 to a school admin, on every route', async () => {
    const made = await adminB.post('/webhook-endpoints', { url: 'https://93.184.215.14/b', events: ['invoice.created'] });
    assert.equal(made.statusCode, 201, made.body);
    const id = made.json<Endpoint>().id;
    const delivery = await t.db.selectFrom('webhook_endpoints').select('id').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(delivery.id, id);
    for (const response of [
      await adminA.get(`/webhook-endpoints/${id}`),
      await adminA.patch(`/webhook-endpoints/${id}`, { enabled: false }),
      await adminA.delete(`/webhook-endpoints/${id}`),
      await adminA.post(`/webhook-endpoints/${id}/rotate-secret`, {}),
      await adminA.get(`/webhook-endpoints/${id}/deliveries`),
      await adminA.post(`/webhook-endpoints/${id}/test`, {}),
    ]) {
      assert.equal(response.statusCode, 404, response.body);
      assert.equal(problemOf(response).code, 'NOT_FOUND');
    }
    assert.ok(!(await adminA.get('/webhook-endpoints')).json<{ data: Endpoint[] }>().data.some((e) => e.id === id));
    // The super admin sees it.
    assert.equal((await root.get(`/webhook-endpoints/${id}`)).statusCode, 200);
    // A school admin may not limit an endpoint to a school that is not theirs.
    const foreign = await adminA.post('/webhook-endpoints', { url: 'https://93.184.215.14/a', events: ['invoice.created'], schoolIds: [f.schoolB] });
    assert.equal(foreign.statusCode, 404, foreign.body);
    assert.equal(problemOf(foreign).errors?.[0]?.field, 'schoolIds.0');
  });

  test('guardian, developer and finance_analyst get 403 on every route', async () => {
    const id = (await root.post('/webhook-endpoints', { url: 'https://93.184.215.14/r', events: ['invoice.paid'] })).json<Endpoint>().id;
    for (const username of ['parent', 'developer', 'finance.analyst']) {
      const other = client(t.app, (await login(t.app, username)).accessToken);
      for (const response of [
        await other.get('/webhook-endpoints'),
        await other.post('/webhook-endpoints', { url: 'https://93.184.215.14/x', events: ['invoice.paid'] }),
        await other.get(`/webhook-endpoints/${id}`),
        await other.patch(`/webhook-endpoints/${id}`, { enabled: false }),
        await other.delete(`/webhook-endpoints/${id}`),
        await other.post(`/webhook-endpoints/${id}/rotate-secret`, {}),
        await other.get(`/webhook-endpoints/${id}/deliveries`),
        await other.post(`/webhook-deliveries/${id}/replay`, {}),
        await other.post(`/webhook-endpoints/${id}/test`, {}),
      ]) {
        assert.equal(response.statusCode, 403, `${username}: ${response.body}`);
      }
    }
  });

  test('bad input is a 400 problem naming the field', async () => {
    const cases: [object, string][] = [
      [{ url: 'https://93.184.215.14/x', events: [] }, 'events'],
      [{ url: 'https://93.184.215.14/x', events: ['invoice.deleted'] }, 'events.0'],
      [{ url: 'https://93.184.215.14/x', events: ['invoice.paid', 'invoice.paid'] }, 'events'],
      [{ url: 'not a url at all', events: ['invoice.paid'] }, 'url'],
      [{ events: ['invoice.paid'] }, 'url'],
      [{ url: 'https://93.184.215.14/x', events: ['invoice.paid'], schoolIds: ['nope'] }, 'schoolIds.0'],
      [{ url: 'https://93.184.215.14/x', events: ['invoice.paid'], extra: 1 }, 'extra'],
    ];
    for (const [payload, field] of cases) {
      const response = await root.post('/webhook-endpoints', payload);
      assert.equal(response.statusCode, 400, `${JSON.stringify(payload)}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(problem.errors?.some((e) => e.field === field), `${JSON.stringify(payload)} → ${JSON.stringify(problem.errors)}`);
    }
    const cursor = await root.get('/webhook-endpoints?cursor=garbage');
    assert.equal(cursor.statusCode, 400);
    assert.equal(problemOf(cursor).errors?.[0]?.field, 'cursor');
    const limit = await root.get('/webhook-endpoints?limit=501');
    assert.equal(limit.statusCode, 400);
  });

  test('SSRF: http, loopback, private, link-local and metadata addresses are refused (WEBHOOKS_ALLOW_LOCAL off)', async () => {
    for (const url of [
      'http://93.184.215.14/hooks',
      'https://127.0.0.1/hooks',
      'https://localhost/hooks',
      'https://10.1.2.3/hooks',
      'https://172.16.0.9/hooks',
      'https://192.168.1.1/hooks',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hooks',
      'https://[fd00::1]/hooks',
      'https://[::ffff:127.0.0.1]/hooks',
      'https://0.0.0.0/hooks',
      'ftp://93.184.215.14/hooks',
      'https://user:pass@93.184.215.14/hooks',
    ]) {
      const response = await root.post('/webhook-endpoints', { url, events: ['invoice.paid'] });
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
      assert.equal(problemOf(response).errors?.[0]?.field, 'url', url);
    }
    const patch = (await root.post('/webhook-endpoints', { url: 'https://93.184.215.14/ok', events: ['invoice.paid'] })).json<Endpoint>();
    const moved = await root.patch(`/webhook-endpoints/${patch.id}`, { url: 'https://10.0.0.1/internal' });
    assert.equal(moved.statusCode, 400);
    assert.equal(problemOf(moved).errors?.[0]?.field, 'url');
  });

  test('the OpenAPI document names every event’s versioned body', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const text = response.body;
    for (const type of ['invoice.created', 'invoice.paid', 'invoice.overdue', 'payment.succeeded', 'payment.failed', 'refund.created', 'credit_note.created', 'reminder.sent', 'bill_run.finished']) {
      assert.ok(text.includes(`WebhookEvent.${type}.v1`), type);
    }
    assert.ok(text.includes('/api/v1/webhook-endpoints/{id}/deliveries'));
  });
});

describe('webhook endpoints with WEBHOOKS_ALLOW_LOCAL=on', () => {
  let t: TestApp;
  let root: Client;
  before(async () => {
    t = await createTestApp({ env: { WEBHOOKS_ALLOW_LOCAL: 'on' } });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  after(async () => {
    await t?.close();
  });

  test('http only on loopback; private addresses allowed', async () => {
    for (const url of ['http://127.0.0.1:9/hooks', 'http://localhost:9/hooks', 'http://[::1]:9/hooks', 'https://10.0.0.1/hooks']) {
      const response = await root.post('/webhook-endpoints', { url, events: ['invoice.paid'] });
      assert.equal(response.statusCode, 201, `${url}: ${response.body}`);
    }
    for (const url of ['http://93.184.215.14/hooks', 'http://10.0.0.1/hooks']) {
      const response = await root.post('/webhook-endpoints', { url, events: ['invoice.paid'] });
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
      assert.equal(problemOf(response).errors?.[0]?.field, 'url');
    }
  });
});
