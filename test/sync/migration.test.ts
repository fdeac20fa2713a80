import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations/', import.meta.url));

/**
 * An install that already hit issue 15 — its live feed blocked on the page after a
 * cursor the vendor no longer knew, retried forever — is upgraded by 0013: the feed says
 * needs_reset (so Retry answers with the reset action instead of doing nothing), its
 * dead letter says why, and the reset has a default time to resume from.
 */
describe('0013_sync_reset on a database stuck on an unknown cursor', () => {
  let database: TestDatabase;
  let dir: string;
  const query = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => {
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      return (await db.query<T>(text, params)).rows;
    } finally {
      await db.end();
    }
  };

  before(async () => {
    database = await createTestDatabase({ fromTemplate: false });
    dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-0013-'));
    for (const file of (await readdir(MIGRATIONS)).filter((name) => name.endsWith('.sql') && name < '0013')) {
      await copyFile(path.join(MIGRATIONS, file), path.join(dir, file));
    }
  });
  after(async () => {
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the blocked feed becomes needs_reset, its letter cursor_unknown; other letters keep their reason', async () => {
    await migrate(database.url, { dir });
    await query(`insert into ledger_entries (vendor_id, account_id, type, amount, created_at, body_hash)
                 values ('ent_0000002270', 'acct_00001', 'earned', 500, '2026-11-30T10:00:00Z', '\\x00'),
                        ('ent_0000000003', 'acct_00002', 'earned', 700, '2026-11-30T09:00:00Z', '\\x01')`);
    await query(`update sync_feeds set status = 'blocked', cursor = '2271', consecutive_failures = 5, retry_at = now() + interval '10 minutes',
                        last_error = 'client: vendor answered 400: {"error":"after is not a cursor of this feed"}' where feed = 'live'`);
    await query(`update sync_feeds set status = 'blocked', cursor = '40' where feed = 'backfill'`);
    await query(`insert into sync_dead_letters (feed, cursor, attempts, last_error, status, created_at) values
                   ('live', '2271', 25, 'client: vendor answered 400: {"error":"after is not a cursor of this feed"}', 'open', now()),
                   ('backfill', '40', 5, 'server: vendor answered 503', 'open', now()),
                   ('live', '100', 5, 'timeout: no answer within 10000 ms', 'resolved', now() - interval '1 day')`);

    const applied = await migrate(database.url);
    assert.equal(applied.applied[0], '0013_sync_reset');
    const feeds = await query<{ feed: string; status: string; retry_at: Date | null; newest_entry_at: Date | null; resume_from: Date | null }>(
      'select feed, status, retry_at, newest_entry_at, resume_from from sync_feeds order by feed desc',
    );
    assert.deepEqual(
      feeds.map((f) => [f.feed, f.status, f.retry_at, f.newest_entry_at?.toISOString() ?? null, f.resume_from]),
      [
        ['live', 'needs_reset', null, '2026-11-30T10:00:00.000Z', null],
        ['backfill', 'blocked', feeds[1]?.retry_at ?? null, null, null],
      ],
    );
    const letters = await query<{ cursor: string; reason: string | null; status: string; resolution: string | null }>('select cursor, reason, status, resolution from sync_dead_letters order by cursor');
    assert.deepEqual(letters, [
      { cursor: '100', reason: 'timeout', status: 'resolved', resolution: 'stored' },
      { cursor: '2271', reason: 'cursor_unknown', status: 'open', resolution: null },
      { cursor: '40', reason: 'server', status: 'open', resolution: null },
    ]);
    await assert.rejects(query(`update sync_feeds set status = 'lost' where feed = 'live'`), /sync_feeds_status_check/);
  });
});
