import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

/**
 * The guardian role and the family portal's API (SPEC §8): invitations (one-time,
 * expiring, through the outbox), guardian users made directly, the portal answering only
 * the caller's own family, every staff route refusing a guardian, and the portal
 * refusing staff. Real PostgreSQL, the real routes through inject.
 */
interface Family {
  id: string;
  reference: string;
  guardians: { id: string; firstName: string; email: string | null }[];
}

describe('guardian users and the family portal API', () => {
  let t: TestApp;
  let root: Client;
  let admin: Client;
  let schoolId: string;
  let otherSchool: string;

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL: 'https://portal.example.edu' } });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await root.post('/schools', { name: 'Colegio Portal', timezone: 'America/Bogota', currency: 'COP' })).json<{ id: string }>().id;
    otherSchool = (await root.post('/schools', { name: 'Otra Escuela', timezone: 'America/Bogota', currency: 'COP' })).json<{ id: string }>().id;
    await insertUser(t.db, { username: 'admin', role: 'school_admin', schoolIds: [schoolId] });
    admin = client(t.app, (await login(t.app, 'admin')).accessToken);
  });
  after(() => t.close());

  /** A family with two guardians (the first with e-mail) and two children, each with an invoice. */
  const family = async (school: string, name: string) => {
    const created = await root.post('/families', {
      schoolId: school,
      name: `Familia ${name}`,
      guardians: [
        { firstName: 'Lucía', lastName: name, email: `lucia.${name.toLowerCase()}@hogar.co`, preferredLanguage: 'es' },
        { firstName: 'Pedro', lastName: name },
      ],
    });
    assert.equal(created.statusCode, 201, created.body);
    const fam = created.json<Family>();
    const invoices: { id: string; number: string }[] = [];
    for (const child of ['Sofía', 'Mateo']) {
      const student = (await root.post('/students', { schoolId: school, firstName: child, lastName: name, grade: '5', familyId: fam.id })).json<{ id: string }>().id;
      invoices.push((await root.post('/invoices', { studentId: student, amount: 350_000_00, dueDate: '2026-11-05' })).json<{ id: string; number: string }>());
    }
    return { family: (await root.get(`/families/${fam.id}`)).json<Family>(), invoices };
  };
  const tokenFrom = (body: string) => body.match(/\/portal\/welcome\?invitation=([A-Za-z0-9_-]{43})/)?.[1];

  test('an invitation: e-mailed (outbox without SMTP) in the guardian’s language, accepted once, then the guardian signs in', async () => {
    const { family: fam } = await family(schoolId, 'Rincon');
    const lucia = fam.guardians.find((g) => g.firstName === 'Lucía');
    const pedro = fam.guardians.find((g) => g.firstName === 'Pedro');
    assert.ok(lucia && pedro);

    const invite = await admin.post(`/guardians/${lucia.id}/invite`, {});
    assert.equal(invite.statusCode, 201, invite.body);
    assert.equal(invite.json<{ status: string }>().status, 'outbox');
    const noEmail = await admin.post(`/guardians/${pedro.id}/invite`, {});
    assert.equal(noEmail.statusCode, 422);
    assert.equal(problemOf(noEmail).errors?.[0]?.field, 'id');

    const log = (await root.get(`/families/${fam.id}/messages`)).json<{ data: { kind: string; subject?: string | null; body: string; status: string }[] }>().data;
    const message = log.find((m) => m.kind === 'invitation');
    assert.ok(message);
    assert.equal(message.status, 'outbox');
    assert.match(message.subject ?? '', /Su acceso al portal de pagos de Colegio Portal/);
    const token = tokenFrom(message.body);
    assert.ok(token, message.body);
    assert.match(message.body, /https:\/\/portal\.example\.edu\/portal\/welcome\?invitation=/);

    const anonymous = client(t.app, null);
    assert.equal((await anonymous.post('/auth/invitations/accept', { token: `${token.slice(0, -1)}x`, username: 'lucia.rincon', password: 'una-clave-larga-1' })).statusCode, 404);
    const shortPassword = await anonymous.post('/auth/invitations/accept', { token, username: 'lucia.rincon', password: 'short' });
    assert.equal(shortPassword.statusCode, 400);
    assert.equal(problemOf(shortPassword).errors?.[0]?.field, 'password');
    const accepted = await anonymous.post('/auth/invitations/accept', { token, username: 'Lucia.Rincon', password: 'una-clave-larga-1' });
    assert.equal(accepted.statusCode, 201, accepted.body);
    assert.equal(accepted.json<{ username: string }>().username, 'lucia.rincon');
    // Once only.
    const again = await anonymous.post('/auth/invitations/accept', { token, username: 'otra.persona', password: 'una-clave-larga-1' });
    assert.equal(again.statusCode, 409);
    // A new invitation for a guardian who has a login is refused.
    assert.equal((await admin.post(`/guardians/${lucia.id}/invite`, {})).statusCode, 409);

    const guardian = client(t.app, (await login(t.app, 'lucia.rincon', 'una-clave-larga-1')).accessToken);
    const me = (await guardian.get('/auth/me')).json<{ role: string; guardian: { guardianId: string; familyId: string }; permissions: string[] }>();
    assert.equal(me.role, 'guardian');
    assert.deepEqual(me.guardian, { schoolId, guardianId: lucia.id, familyId: fam.id });
    assert.deepEqual(me.permissions, ['authenticated', 'payments:checkout', 'portal:use', 'public']);
    const audit = await t.db.selectFrom('audit_log').select('action').where('entity_id', '=', lucia.id).orderBy('id').execute();
    assert.deepEqual(audit.map((a) => a.action).filter((a) => a.startsWith('guardian.i')), ['guardian.invite', 'guardian.invitation_accepted']);
  });

  test('an expired invitation is a 410, and another school’s guardian is not found for a school_admin', async () => {
    const { family: fam } = await family(schoolId, 'Vence');
    const lucia = fam.guardians.find((g) => g.firstName === 'Lucía');
    assert.ok(lucia);
    assert.equal((await admin.post(`/guardians/${lucia.id}/invite`, {})).statusCode, 201);
    await t.db.updateTable('guardian_invitations').set({ expires_at: new Date(Date.now() - 1000) }).where('guardian_id', '=', lucia.id).execute();
    const log = (await root.get(`/families/${fam.id}/messages`)).json<{ data: { body: string }[] }>().data;
    const token = tokenFrom(log[0]?.body ?? '');
    assert.ok(token);
    const expired = await client(t.app, null).post('/auth/invitations/accept', { token, username: 'lucia.vence', password: 'una-clave-larga-1' });
    assert.equal(expired.statusCode, 410);

    const { family: foreign } = await family(otherSchool, 'Ajena');
    assert.equal((await admin.post(`/guardians/${foreign.guardians[0]?.id}/invite`, {})).statusCode, 404);
  });

  test('the portal answers the guardian’s own family only; staff routes refuse a guardian; the portal refuses staff', async () => {
    const mine = await family(schoolId, 'Propia');
    const theirs = await family(schoolId, 'Vecina');
    const lucia = mine.family.guardians.find((g) => g.firstName === 'Lucía');
    assert.ok(lucia);
    await insertUser(t.db, { username: 'lucia.propia', role: 'guardian', guardian: { schoolId, id: lucia.id } });
    const guardian = client(t.app, (await login(t.app, 'lucia.propia')).accessToken);

    const me = await guardian.get('/portal/me');
    assert.equal(me.statusCode, 200, me.body);
    const body = me.json<{ family: { id: string; reference: string; balance: { owed: number } }; students: { firstName: string }[]; nextDue: { number: string } | null; school: { name: string } }>();
    assert.deepEqual([body.family.id, body.family.reference, body.family.balance.owed, body.school.name], [mine.family.id, mine.family.reference, 2 * 350_000_00, 'Colegio Portal']);
    assert.deepEqual(body.students.map((s) => s.firstName).sort(), ['Mateo', 'Sofía']);
    assert.equal(body.nextDue?.number, mine.invoices[0]?.number);

    const list = (await guardian.get('/portal/invoices')).json<{ data: { id: string }[] }>().data;
    assert.deepEqual(list.map((i) => i.id).sort(), mine.invoices.map((i) => i.id).sort());
    const own = await guardian.get(`/portal/invoices/${mine.invoices[0]?.id}`);
    assert.equal(own.statusCode, 200);
    assert.ok(own.json<{ lines: unknown[] }>().lines.length > 0);
    assert.equal((await guardian.get(`/portal/invoices/${theirs.invoices[0]?.id}`)).statusCode, 404);
    assert.equal((await guardian.get(`/portal/invoices/${randomUUID()}`)).statusCode, 404);

    // Preferences: the guardian's own, audited, seen by staff.
    const patched = await guardian.patch('/portal/me', { remindersOptOut: true, preferredLanguage: 'en' });
    assert.equal(patched.statusCode, 200, patched.body);
    const staffView = (await root.get(`/guardians/${lucia.id}`)).json<{ remindersOptOut: boolean; preferredLanguage: string }>();
    assert.deepEqual([staffView.remindersOptOut, staffView.preferredLanguage], [true, 'en']);
    assert.equal((await guardian.patch('/portal/me', {})).statusCode, 400);

    // Every staff route refuses a guardian, their own family's and invoice's included.
    const staffRoutes: [string, () => ReturnType<Client['get']>][] = [
      ['GET /schools', () => guardian.get('/schools')],
      ['GET /families/:id (own)', () => guardian.get(`/families/${mine.family.id}`)],
      ['GET /families/:id/messages (own)', () => guardian.get(`/families/${mine.family.id}/messages`)],
      ['GET /invoices/:id (own)', () => guardian.get(`/invoices/${mine.invoices[0]?.id}`)],
      ['GET /invoices/:id (other)', () => guardian.get(`/invoices/${theirs.invoices[0]?.id}`)],
      ['POST /payments (own)', () => guardian.post('/payments', { invoiceId: mine.invoices[0]?.id, amount: 100, method: 'cash' }, { 'idempotency-key': randomUUID() })],
      ['POST /families/:id/payments', () => guardian.post(`/families/${mine.family.id}/payments`, { amount: 100, method: 'cash' }, { 'idempotency-key': randomUUID() })],
      ['GET /outbox', () => guardian.get('/outbox')],
      ['GET /reports/dashboard', () => guardian.get('/reports/dashboard')],
      ['GET /users', () => guardian.get('/users')],
      ['POST /guardians/:id/invite', () => guardian.post(`/guardians/${lucia.id}/invite`, {})],
      ['POST /invoices/:id/pay-link', () => guardian.post(`/invoices/${mine.invoices[0]?.id}/pay-link`, {})],
    ];
    for (const [name, call] of staffRoutes) {
      assert.equal((await call()).statusCode, 403, `guardian ${name}`);
    }
    const paid = await t.db.selectFrom('invoices').select('paid_amount').where('id', 'in', mine.invoices.map((i) => i.id)).execute();
    assert.deepEqual(paid.map((p) => Number(p.paid_amount)), [0, 0], 'nothing was paid by a refused call');

    // The portal is for guardians: staff get 403, nobody signed in 401.
    assert.equal((await root.get('/portal/me')).statusCode, 403);
    assert.equal((await admin.get('/portal/invoices')).statusCode, 403);
    assert.equal((await client(t.app, null).get('/portal/me')).statusCode, 401);

    // A deleted guardian's user sees nothing.
    const pedro = mine.family.guardians.find((g) => g.firstName === 'Pedro');
    assert.ok(pedro);
    await insertUser(t.db, { username: 'pedro.propia', role: 'guardian', guardian: { schoolId, id: pedro.id } });
    const gone = client(t.app, (await login(t.app, 'pedro.propia')).accessToken);
    assert.equal((await gone.get('/portal/me')).statusCode, 200);
    await t.db.updateTable('guardians').set({ deleted_at: new Date() }).where('id', '=', pedro.id).execute();
    assert.equal((await gone.get('/portal/me')).statusCode, 404);
    assert.equal((await gone.get('/portal/invoices')).statusCode, 404);
  });

  test('POST /users makes a guardian user (super_admin, or a school_admin for their schools) with its guardian, once; role changes to or from guardian are refused', async () => {
    const { family: fam } = await family(schoolId, 'Directa');
    const lucia = fam.guardians.find((g) => g.firstName === 'Lucía');
    assert.ok(lucia);
    const missing = await root.post('/users', { username: 'sin.guardian', password: 'una-clave-larga-1', role: 'guardian' });
    assert.equal(missing.statusCode, 400);
    assert.equal(problemOf(missing).errors?.[0]?.field, 'guardianId');
    assert.equal((await root.post('/users', { username: 'staff.con', password: 'una-clave-larga-1', role: 'developer', guardianId: lucia.id })).statusCode, 400);
    assert.equal((await root.post('/users', { username: 'nadie', password: 'una-clave-larga-1', role: 'guardian', guardianId: randomUUID() })).statusCode, 422);
    const created = await root.post('/users', { username: 'lucia.directa', password: 'una-clave-larga-1', role: 'guardian', guardianId: lucia.id });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json<{ guardianId: string }>().guardianId, lucia.id);
    assert.equal((await root.post('/users', { username: 'lucia.dos', password: 'una-clave-larga-1', role: 'guardian', guardianId: lucia.id })).statusCode, 409);
    const userId = created.json<{ id: string }>().id;
    assert.equal((await root.patch(`/users/${userId}`, { role: 'developer' })).statusCode, 422);
    const staff = (await root.post('/users', { username: 'staff.uno', password: 'una-clave-larga-1', role: 'developer' })).json<{ id: string }>();
    assert.equal((await root.patch(`/users/${staff.id}`, { role: 'guardian' })).statusCode, 422);
    // A school_admin may make guardian users of guardians of their schools, and no other user.
    const pedro = fam.guardians.find((g) => g.firstName === 'Pedro');
    assert.ok(pedro);
    const byAdmin = await admin.post('/users', { username: 'pedro.directa', password: 'una-clave-larga-1', role: 'guardian', guardianId: pedro.id });
    assert.equal(byAdmin.statusCode, 201, byAdmin.body);
    assert.equal((await admin.post('/users', { username: 'otro.staff', password: 'una-clave-larga-1', role: 'developer' })).statusCode, 403);
    const { family: foreign } = await family(otherSchool, 'Foranea');
    assert.equal((await admin.post('/users', { username: 'foranea.uno', password: 'una-clave-larga-1', role: 'guardian', guardianId: foreign.guardians[0]?.id })).statusCode, 422);
  });
});
