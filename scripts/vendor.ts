/**
 * `npm run vendor`: the payment gateway's account-feed simulator on its own, for running
 * Bursar against it from another process (VENDOR_URL=<printed url> SYNC=on npm start)
 * or poking it by hand:
 *
 *   curl -H 'X-Api-Key: demo-key' 'http://127.0.0.1:4010/v1/entries?limit=5'
 *   curl -H 'X-Api-Key: demo-key' 'http://127.0.0.1:4010/v1/entries?since=2026-01-01T00:00:00Z&limit=5'
 *   curl -X POST -H 'X-Api-Key: demo-key' -H 'content-type: application/json' \
 *        -d '{"kind":"error","count":3}' http://127.0.0.1:4010/control/faults
 *
 * Its feed survives restarts: the definition is kept in `<BURSAR_DATA_DIR>/vendor-feed.json`
 * (or `--state FILE`), so a restarted simulator serves the same entries under the same
 * cursors. `--fresh` starts a new feed (every cursor handed out before is then unknown:
 * a Bursar syncing from it goes to needs_reset). The fault `{"kind":"reset"}` makes the
 * running simulator forget its cursors without losing its entries.
 *
 * Configuration: VENDOR_API_KEY, VENDOR_SIMULATOR_PORT (0 = any free port),
 * VENDOR_SIMULATOR_RATE (entries/s). `--history N` gives a new feed N entries of history.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createVendorSimulator } from '../src/modules/vendor/vendor.simulator.js';
import { createFileFeedStore } from '../src/modules/vendor/vendor.store.js';

const { values } = parseArgs({
  options: { history: { type: 'string', default: '2000' }, state: { type: 'string' }, fresh: { type: 'boolean', default: false } },
});
const config = loadConfig();
const stateFile = path.resolve(values.state ?? path.join(config.dataDir, 'vendor-feed.json'));
if (values.fresh) {
  await rm(stateFile, { force: true });
}
const simulator = createVendorSimulator({
  apiKeys: [config.vendor.apiKey],
  entriesPerSecond: config.vendor.simulator.entriesPerSecond,
  host: config.host,
  port: config.vendor.simulator.port,
  history: Number(values.history),
  store: createFileFeedStore(stateFile),
  onStoreError: (error) => console.error('[vendor] could not save the feed definition:', error),
});
const url = await simulator.start();
const feed = simulator.definition();
console.log(
  `[vendor] feed ${feed.feedId} (${simulator.feedLength()} entries, kept in ${stateFile}) at ${url}/v1/entries (X-Api-Key: ${config.vendor.apiKey}), ` +
    `${config.vendor.simulator.entriesPerSecond} entries/s, 5 requests/min, ≤ 1000 entries/request`,
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}
