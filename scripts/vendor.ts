/**
 * `npm run vendor`: the payment gateway's account-feed simulator on its own, for running
 * Bursar against it from another process (VENDOR_URL=<printed url> SYNC=on npm start)
 * or poking it by hand:
 *
 *   curl -H 'X-Api-Key: demo-key' 'http://127.0.0.1:4010/v1/entries?limit=5'
 *   curl -X POST -H 'X-Api-Key: demo-key' -H 'content-type: application/json' \
 *        -d '{"kind":"error","count":3}' http://127.0.0.1:4010/control/faults
 *
 * Configuration: VENDOR_API_KEY, VENDOR_SIMULATOR_PORT (0 = any free port),
 * VENDOR_SIMULATOR_RATE (entries/s). `--history N` starts with N entries of history.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createVendorSimulator } from '../src/modules/vendor/vendor.simulator.js';

const { values } = parseArgs({ options: { history: { type: 'string', default: '2000' } } });
const config = loadConfig();
const simulator = createVendorSimulator({
  apiKeys: [config.vendor.apiKey],
  entriesPerSecond: config.vendor.simulator.entriesPerSecond,
  host: config.host,
  port: config.vendor.simulator.port,
  history: Number(values.history),
});
const url = await simulator.start();
console.log(`[vendor] feed at ${url}/v1/entries (X-Api-Key: ${config.vendor.apiKey}), ${config.vendor.simulator.entriesPerSecond} entries/s, 5 requests/min, ≤ 1000 entries/request`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}
