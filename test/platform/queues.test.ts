import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { createQueue } from '../../src/jobs/boss.js';
import { createTestDatabase } from '../helpers/db.js';

/**
 * Processes booting at once on a fresh database (two API processes and two workers)
 * each create their pg-boss queues; pg-boss 10's queue creation (a row, then a partition
 * of the job table) deadlocks across processes — measured: 16 deadlocks in 15 rounds of
 * four instances with boss.createQueue. createQueue (src/jobs/boss.ts) retries them.
 */
describe('pg-boss queues created by several processes at once', () => {
  test('four instances creating the same three queues on a fresh database, five times: no error, each queue once', async () => {
    for (let round = 0; round < 5; round++) {
      const database = await createTestDatabase({ fromTemplate: false });
      try {
        const instances = Array.from({ length: 4 }, () => new PgBoss({ connectionString: database.url, schema: 'pgboss', supervise: false, schedule: false, max: 3 }));
        const errors: unknown[] = [];
        await Promise.all(
          instances.map(async (boss) => {
            boss.on('error', (error) => errors.push(error));
            try {
              await boss.start();
              for (const name of ['bill-runs', 'sync', 'maintenance']) {
                await createQueue(boss, name, { name, policy: 'standard' });
              }
            } catch (error) {
              errors.push(error);
            }
          }),
        );
        await Promise.all(instances.map((boss) => boss.stop({ graceful: false, wait: true }).catch(() => undefined)));
        assert.deepEqual(errors.map((error) => (error instanceof Error ? error.message : String(error))), [], `round ${round}`);
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          const { rows } = await client.query<{ name: string }>('select name from pgboss.queue order by name');
          assert.deepEqual(rows.map((row) => row.name), ['bill-runs', 'maintenance', 'sync']);
        } finally {
          await client.end();
        }
      } finally {
        await database.drop();
      }
    }
  });
});
