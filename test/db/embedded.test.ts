import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { settingFlags, startEmbeddedPostgres } from '../../src/db/embedded.js';

/**
 * Server settings for the embedded PostgreSQL (the benchmark sizes shared_buffers with
 * them) go to pg_ctl's `-o` as one string: only plain names and values get through.
 */
describe('embedded PostgreSQL settings', () => {
  test('plain settings become -c flags, in order', () => {
    assert.deepEqual(settingFlags({ shared_buffers: '1GB', work_mem: '64MB', 'auto_explain.log_min_duration': '250' }), [
      '-c shared_buffers=1GB',
      '-c work_mem=64MB',
      '-c auto_explain.log_min_duration=250',
    ]);
    assert.deepEqual(settingFlags(), []);
  });

  test('a name or value that could carry another option is refused', () => {
    const refused: Record<string, string>[] = [{ shared_buffers: '1GB -c fsync=off' }, { 'shared_buffers=1GB -c x': '1' }, { work_mem: "64MB'" }, { work_mem: '' }];
    for (const settings of refused) {
      assert.throws(() => settingFlags(settings), /only plain names and values/, JSON.stringify(settings));
    }
  });

  test('startEmbeddedPostgres refuses them before creating anything', async () => {
    const dataDir = `/nonexistent/bursar-embedded-${process.pid}`;
    await assert.rejects(startEmbeddedPostgres({ dataDir, port: 1, settings: { shared_buffers: '1GB; x' } }), /only plain names and values/);
  });
});
