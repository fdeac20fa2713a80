import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { PASSWORD } from '../helpers/app.js';
import { openLedgerDatabase } from './fixtures.js';

/** The demo seed writes its bills in bulk: each still gets its charge line, and the family ledger balances. */
describe('seeded data keeps the ledger invariant', () => {
  let database: Awaited<ReturnType<typeof openLedgerDatabase>>;

  before(async () => {
    database = await openLedgerDatabase();
  });
  after(() => database.close());

  test('the demo seed: every invoice is the sum of its lines, per student the ledger balances', async () => {
    assert.equal(await seedDemoData(database.db, { password: PASSWORD, now: new Date('2026-09-03T08:00:00Z') }), true);
    const report = await verifyLedgerInvariant(database.db);
    assert.ok(report.invoices.checked > 100);
    assert.ok(report.ok, formatLedgerInvariantReport(report));
  });
});
