import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addDays } from '../../src/modules/assistant/format.js';
import { payLinkKey, signFamilyPayToken, signPayToken } from '../../src/modules/paylinks/paylinks.tokens.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

/**
 * Reminders (SPEC §8): the policy per school, the daily run writing each step once per
 * invoice and guardian (re-runs and concurrent runs), languages, opt-out, the outbox when
 * no channel is configured, the delivery log with masking, and the pay link each reminder
 * carries. Real PostgreSQL, the real routes through inject.
 */
interface Message {
  id: string;
  schoolId: string;
  familyId: string | null;
  invoiceId: string | null;
  invoiceNumber: string | null;
  guardianId: string | null;
  guardianName: string | null;
  template: string | null;
  channel: string;
  language: string;
  recipient: string;
  status: string;
  subject?: string | null;
  body: string;
  attempts: number;
}
interface RunResult {
  lateFeesPosted: number;
  remindersSent: number;
  remindersSkipped: number;
  runs: number;
}
interface Family {
  id: string;
  reference: string;
  guardians: { id: string; firstName: string; preferredLanguage: string }[];
}

const STEPS = [
  { offsetDays: -3, channel: 'email', template: 'upcoming' },
  { offsetDays: 0, channel: 'sms', template: 'due' },
  { offsetDays: 5, channel: 'whatsapp', template: 'overdue' },
];

describe('reminders: policy, daily run, outbox, delivery log, pay links', () => {
  let t: TestApp;
  let root: Client;
  let admin: Client;
  let analyst: Client;
  let developer: Client;
  let schoolId: string;
  let otherSchool: string;

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL: 'https://pay.example.edu' } });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await root.post('/schools', { name: 'Colegio Aviso', timezone: 'America/Mexico_City', currency: 'MXN' })).json<{ id: string }>().id;
    otherSchool = (await root.post('/schools', { name: 'Other Academy', timezone: 'America/New_York', currency: 'USD' })).json<{ id: string }>().id;
    await insertUser(t.db, { username: 'admin', role: 'school_admin', schoolIds: [schoolId] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    admin = client(t.app, (await login(t.app, 'admin')).accessToken);
    analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);
    developer = client(t.app, (await login(t.app, 'dev')).accessToken);
  });
  after(() => t.close());

  /** A family of two guardians (María: Spanish, e-mail and phone; John: English, e-mail only) and one child. */
  const family = async (school: string, name: string) => {
    const response = await root.post('/families', {
      schoolId: school,
      name: `Familia ${name}`,
      guardians: [
        { firstName: 'María', lastName: name, email: `maria.${name.toLowerCase()}@correo.mx`, phone: '+52 55 1234 5678', preferredLanguage: 'es' },
        { firstName: 'John', lastName: name, email: `john.${name.toLowerCase()}@mail.com`, preferredLanguage: 'en' },
      ],
    });
    assert.equal(response.statusCode, 201, response.body);
    const created = response.json<Family>();
    const student = await root.post('/students', { schoolId: school, firstName: 'Lucía', lastName: name, grade: '3', familyId: created.id });
    assert.equal(student.statusCode, 201, student.body);
    return { family: (await root.get(`/families/${created.id}`)).json<Family>(), studentId: student.json<{ id: string }>().id };
  };
  const invoice = async (studentId: string, amount: number, dueDate: string) => {
    const response = await root.post('/invoices', { studentId, amount, dueDate });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ id: string; number: string }>();
  };
  const run = async (school: string, date: string, who: Client = root) => {
    const response = await who.post('/collections/run', { schoolId: school, date });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<RunResult>();
  };
  const messagesOf = async (familyId: string, who: Client = root) => {
    const response = await who.get(`/families/${familyId}/messages?limit=100`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ data: Message[] }>().data;
  };

  test('the policy: PUT validates and is audited; GET answers it; scope and roles', async () => {
    const none = await root.get(`/schools/${schoolId}/reminder-policy`);
    assert.equal(none.statusCode, 404);

    const duplicate = await root.put(`/schools/${schoolId}/reminder-policy`, { steps: [STEPS[0], { ...STEPS[0], template: 'due' }] });
    assert.equal(duplicate.statusCode, 400);
    assert.equal(problemOf(duplicate).errors?.[0]?.field, 'steps.1');
    const badChannel = await root.put(`/schools/${schoolId}/reminder-policy`, { steps: [{ offsetDays: 1, channel: 'pigeon', template: 'due' }] });
    assert.equal(badChannel.statusCode, 400);
    assert.match(JSON.stringify(problemOf(badChannel).errors), /steps\/0\/channel|steps\.0\.channel/);

    const put = await admin.put(`/schools/${schoolId}/reminder-policy`, { steps: [STEPS[2], STEPS[0], STEPS[1]] });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json<{ steps: unknown[] }>().steps, STEPS, 'steps are kept in day order');
    assert.deepEqual((await analyst.get(`/schools/${schoolId}/reminder-policy`)).json<{ steps: unknown[]; enabled: boolean }>(), { ...put.json<object>() });
    assert.equal((await analyst.put(`/schools/${schoolId}/reminder-policy`, { steps: [] })).statusCode, 403);
    assert.equal((await developer.get(`/schools/${schoolId}/reminder-policy`)).statusCode, 403);
    assert.equal((await admin.get(`/schools/${otherSchool}/reminder-policy`)).statusCode, 404);
    assert.equal((await admin.put(`/schools/${otherSchool}/reminder-policy`, { steps: [] })).statusCode, 404);
    const audit = await t.db.selectFrom('audit_log').select('action').where('entity_id', '=', schoolId).where('action', '=', 'reminder_policy.put').execute();
    assert.equal(audit.length, 1);
  });

  test('each step on its day, once per invoice and guardian, in the guardian’s language, into the outbox with no channel configured', async () => {
    const { family: fam, studentId } = await family(schoolId, 'Robles');
    const due = '2026-03-10';
    const bill = await invoice(studentId, 1_234_550, due);

    // Three days before: the e-mail step, to both guardians, each in their language.
    const first = await run(schoolId, addDays(due, -3));
    assert.deepEqual([first.remindersSent, first.remindersSkipped], [2, 0]);
    let messages = await messagesOf(fam.id);
    assert.equal(messages.length, 2);
    const maria = messages.find((m) => m.recipient.startsWith('maria.'));
    const john = messages.find((m) => m.recipient.startsWith('john.'));
    assert.ok(maria && john, JSON.stringify(messages));
    assert.deepEqual([maria.channel, maria.language, maria.status, maria.template, maria.invoiceId, maria.invoiceNumber], ['email', 'es', 'outbox', 'upcoming', bill.id, bill.number]);
    assert.deepEqual([john.language, john.status], ['en', 'outbox']);
    assert.match(maria.subject ?? '', /Recordatorio de pago: \$12,345\.50/);
    assert.match(maria.body, /Lucía Robles tiene un pago de \$12,345\.50 con vencimiento el 10 de marzo de 2026/);
    assert.match(maria.body, new RegExp(`use la referencia ${fam.reference}`));
    assert.match(maria.body, /Pague en línea: https:\/\/pay\.example\.edu\/pay\/[A-Za-z0-9_-]{50}/);
    assert.match(john.body, /a payment of MX\$12,345\.50 for Lucía Robles is due on March 10, 2026/);
    assert.match(john.body, new RegExp(`use the reference ${fam.reference}`));

    // A re-run of the day and five concurrent ones send nothing again.
    assert.deepEqual(await run(schoolId, addDays(due, -3)), { ...first, remindersSent: 0, runs: 2 });
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => root.post('/collections/run', { schoolId, date: addDays(due, -3) })));
    assert.deepEqual(concurrent.map((r) => [r.statusCode, r.json<RunResult>().remindersSent]), Array.from({ length: 5 }, () => [200, 0]));
    // Days with no step send nothing.
    assert.equal((await run(schoolId, addDays(due, -2))).remindersSent, 0);

    // On the day: the SMS step reaches María (who has a phone); John has none: skipped.
    const onDay = await run(schoolId, due);
    assert.deepEqual([onDay.remindersSent, onDay.remindersSkipped], [1, 1]);
    messages = await messagesOf(fam.id);
    const sms = messages.find((m) => m.channel === 'sms');
    assert.ok(sms);
    assert.equal(sms.recipient, '+52 55 1234 5678');
    assert.match(sms.body, /^Colegio Aviso: Lucia Robles tiene un pago de \$12,345\.50 que vence el 10 mar/);
    assert.match(sms.body, /\nhttps:\/\/pay\.example\.edu\/pay\/[A-Za-z0-9_-]{50}$/);

    // John opts out: the overdue step (WhatsApp) skips him, and María has a phone.
    const opt = await root.patch(`/guardians/${john.guardianId}`, { remindersOptOut: true });
    assert.equal(opt.statusCode, 200, opt.body);
    const overdue = await run(schoolId, addDays(due, 5));
    assert.deepEqual([overdue.remindersSent, overdue.remindersSkipped], [1, 1]);
    messages = await messagesOf(fam.id);
    const whatsapp = messages.find((m) => m.channel === 'whatsapp');
    assert.ok(whatsapp);
    assert.equal(whatsapp.template, 'overdue');
    assert.match(whatsapp.body, /\*\$12,345\.50\* vencidos desde el 10 mar 2026/);
    assert.equal(messages.length, 4);
    // Newest first, and the day's row keeps what was sent over all runs.
    assert.equal(messages[0]?.channel, 'whatsapp');
    const days = (await root.get(`/collections/runs?schoolId=${schoolId}&limit=10`)).json<{ data: { date: string; remindersSent: number; runs: number }[] }>().data;
    assert.deepEqual(days.find((d) => d.date === addDays(due, -3)), { ...days.find((d) => d.date === addDays(due, -3)), remindersSent: 2, runs: 7 });

    // Paid invoices get no reminders.
    const paid = await invoice(studentId, 5_000, '2026-04-01');
    const payment = await root.post('/payments', { invoiceId: paid.id, amount: 5_000, method: 'cash' }, { 'idempotency-key': 'paid-before-reminder' });
    assert.equal(payment.statusCode, 201, payment.body);
    assert.equal((await run(schoolId, '2026-03-29')).remindersSent, 0);

    // A student with no family: nobody to remind, counted as skipped.
    const orphan = (await root.post('/students', { schoolId, firstName: 'Sin', lastName: 'Familia', grade: '1' })).json<{ id: string }>().id;
    await invoice(orphan, 7_000, '2026-05-04');
    assert.deepEqual(await run(schoolId, '2026-05-01').then((r) => [r.remindersSent, r.remindersSkipped]), [0, 1]);
  });

  test('the invoice’s payer only, when its instalments are split between payers', async () => {
    const { family: fam, studentId } = await family(schoolId, 'Payer');
    const bill = await invoice(studentId, 80_000, '2026-06-10');
    const john = fam.guardians.find((g) => g.firstName === 'John');
    assert.ok(john);
    await t.db.updateTable('invoices').set({ payer_guardian_id: john.id, family_id: fam.id }).where('id', '=', bill.id).execute();
    assert.equal((await run(schoolId, '2026-06-07')).remindersSent, 1);
    const [only] = await messagesOf(fam.id);
    assert.equal(only?.guardianId, john.id);
    assert.equal(only?.language, 'en');
  });

  test('the delivery log and the outbox: scoped by school, masked for finance_analyst, refused to developer', async () => {
    const { family: fam, studentId } = await family(schoolId, 'Vista');
    const bill = await invoice(studentId, 10_000, '2026-07-10');
    await run(schoolId, '2026-07-07');
    const [clear] = await messagesOf(fam.id, admin);
    assert.ok(clear);
    const [masked] = await messagesOf(fam.id, analyst);
    assert.ok(masked);
    assert.equal(masked.id, clear.id);
    assert.match(masked.recipient, /^[mj]\*\*\*@[cm]\*\*\*\.(mx|com)$/);
    assert.equal(masked.body, '');
    assert.equal(masked.subject, null);
    assert.match(masked.guardianName ?? '', /^[MJ]\. V\.$/);
    assert.equal((await developer.get(`/families/${fam.id}/messages`)).statusCode, 403);

    const invoiceLog = (await admin.get(`/invoices/${bill.id}/messages`)).json<{ data: Message[] }>().data;
    assert.deepEqual(invoiceLog.map((m) => m.invoiceId), [bill.id, bill.id]);

    const outbox = await admin.get(`/outbox?schoolId=${schoolId}&limit=2`);
    assert.equal(outbox.statusCode, 200, outbox.body);
    const page = outbox.json<{ data: Message[]; nextCursor: string | null }>();
    assert.equal(page.data.length, 2);
    assert.ok(page.data.every((m) => m.status === 'outbox' && m.schoolId === schoolId));
    assert.ok(page.nextCursor);
    const next = (await admin.get(`/outbox?schoolId=${schoolId}&limit=2&cursor=${encodeURIComponent(page.nextCursor)}`)).json<{ data: Message[] }>();
    assert.ok(next.data.length > 0 && next.data.every((m) => !page.data.some((p) => p.id === m.id)));

    // Another school's family, invoice and outbox are not found for this school_admin.
    const { family: foreign, studentId: foreignStudent } = await family(otherSchool, 'Ajena');
    const foreignBill = await invoice(foreignStudent, 10_000, '2026-07-10');
    assert.equal((await admin.get(`/families/${foreign.id}/messages`)).statusCode, 404);
    assert.equal((await admin.get(`/invoices/${foreignBill.id}/messages`)).statusCode, 404);
    assert.equal((await admin.get(`/outbox?schoolId=${otherSchool}`)).statusCode, 404);
    const mine = (await admin.get('/outbox?limit=500')).json<{ data: Message[] }>().data;
    assert.ok(mine.length > 0 && mine.every((m) => m.schoolId === schoolId));
    assert.equal((await admin.get('/outbox?cursor=nope')).statusCode, 400);
  });

  test('pay links: in every reminder and on demand; tampered → 404, expired → 410, only school, number and amount shown', async () => {
    const { studentId, family: household } = await family(schoolId, 'Enlace');
    const bill = await invoice(studentId, 45_600, '2026-08-10');
    const created = await admin.post(`/invoices/${bill.id}/pay-link`, { expiresInDays: 7 });
    assert.equal(created.statusCode, 201, created.body);
    const { url, expiresAt } = created.json<{ url: string; expiresAt: string }>();
    assert.match(url, /^https:\/\/pay\.example\.edu\/pay\/[A-Za-z0-9_-]{50}$/);
    assert.ok(Date.parse(expiresAt) > Date.now() + 6 * 86_400_000);
    const token = url.split('/').pop() ?? '';

    const anonymous = client(t.app, null);
    const view = await anonymous.get(`/pay-links/${token}`);
    assert.equal(view.statusCode, 200, view.body);
    assert.deepEqual(view.json(), { kind: 'invoice', schoolName: 'Colegio Aviso', invoiceNumber: bill.number, amountDue: 45_600, currency: 'MXN', status: 'open', expiresAt });

    // Tampered: one character of the invoice part changed.
    const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6);
    assert.equal((await anonymous.get(`/pay-links/${flipped}`)).statusCode, 404);
    assert.equal((await anonymous.get('/pay-links/not-a-token')).statusCode, 404);
    const expired = signPayToken(await payLinkKey(t.db), bill.id, new Date(Date.now() - 1000));
    const gone = await anonymous.get(`/pay-links/${expired}`);
    assert.equal(gone.statusCode, 410);
    assert.doesNotMatch(gone.body, new RegExp(bill.number));
    // Signed with another key: not ours.
    const forged = signPayToken(Buffer.alloc(32, 7), bill.id, new Date(Date.now() + 86_400_000));
    assert.equal((await anonymous.get(`/pay-links/${forged}`)).statusCode, 404);

    // A family link (the QR code on a statement) shows the family's reference and what it owes; its purpose is signed.
    const familyToken = signFamilyPayToken(await payLinkKey(t.db), household.id, new Date(expiresAt));
    const familyView = await anonymous.get(`/pay-links/${familyToken}`);
    assert.equal(familyView.statusCode, 200, familyView.body);
    assert.deepEqual(familyView.json(), { kind: 'family', schoolName: 'Colegio Aviso', familyReference: household.reference, amountDue: 45_600, currency: 'MXN', status: 'open', expiresAt });
    const repurposed = Buffer.from(token, 'base64url');
    repurposed[0] = 0x02;
    assert.equal((await anonymous.get(`/pay-links/${repurposed.toString('base64url')}`)).statusCode, 404);

    // Paid: the link says so and asks for nothing; a new link is refused.
    const pay = await root.post('/payments', { invoiceId: bill.id, amount: 45_600, method: 'card' }, { 'idempotency-key': 'pay-link-paid' });
    assert.equal(pay.statusCode, 201, pay.body);
    assert.deepEqual((await anonymous.get(`/pay-links/${token}`)).json<{ status: string; amountDue: number }>(), { ...view.json<object>(), status: 'paid', amountDue: 0 });
    assert.equal((await admin.post(`/invoices/${bill.id}/pay-link`, {})).statusCode, 422);
    assert.equal((await analyst.post(`/invoices/${bill.id}/pay-link`, {})).statusCode, 403);
    const foreign = await family(otherSchool, 'Lejana');
    const foreignBill = await invoice(foreign.studentId, 1_000, '2026-08-10');
    assert.equal((await admin.post(`/invoices/${foreignBill.id}/pay-link`, {})).statusCode, 404);
    assert.equal((await admin.post(`/invoices/${bill.id}/pay-link`, { expiresInDays: 0 })).statusCode, 400);

    // The link in a reminder opens the same page (it lasts 30 days from the reminder's day).
    const today = new Date().toISOString().slice(0, 10);
    const next = await invoice(studentId, 9_900, addDays(today, 1));
    await run(schoolId, addDays(today, -2));
    const log = (await root.get(`/invoices/${next.id}/messages`)).json<{ data: Message[] }>().data;
    const link = log[0]?.body.match(/https:\/\/pay\.example\.edu\/pay\/([A-Za-z0-9_-]{50})/)?.[1];
    assert.ok(link, log[0]?.body);
    assert.equal((await anonymous.get(`/pay-links/${link}`)).json<{ invoiceNumber: string }>().invoiceNumber, next.number);
  });
});
