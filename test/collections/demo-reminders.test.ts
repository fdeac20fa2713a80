import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { client } from '../helpers/api.js';
import { createTestApp, login, type TestApp } from '../helpers/app.js';

/** The demo (npm start) starts with the last weeks' reminders in the outbox, in each school's language. */
describe('demo reminders', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await seedDemoData(t.db, { password: 'ChangeMe123!', publicUrl: 'http://localhost:3000' });
  });
  after(() => t.close());

  test('every demo school has reminders waiting in the outbox, with amounts, references and pay links', async () => {
    const { rows } = await sql<{ name: string; language: string; count: number }>`
      select s.name, m.language, count(*)::int as count from messages m join schools s on s.id = m.school_id
       where m.status = 'outbox' group by 1, 2 order by 1, 2`.execute(t.db);
    assert.deepEqual(rows.map((r) => [r.name, r.language]), [['Colegio Miraflores', 'es'], ['Instituto Andino', 'es'], ['Lincoln Bilingual School', 'en']]);
    assert.ok(rows.every((r) => r.count > 0), JSON.stringify(rows));
    const root = client(t.app, (await login(t.app, 'super.admin', 'ChangeMe123!')).accessToken);
    const outbox = (await root.get('/outbox?limit=20')).json<{ data: { body: string; channel: string; invoiceNumber: string | null }[] }>().data;
    assert.equal(outbox.length, 20);
    for (const message of outbox) {
      assert.match(message.body, /http:\/\/localhost:3000\/pay\/[A-Za-z0-9_-]{50}/);
      if (message.channel === 'email') {
        assert.ok(message.invoiceNumber !== null && message.body.includes(message.invoiceNumber), message.body);
      }
    }
  });
});
