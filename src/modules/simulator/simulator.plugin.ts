import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { httpPortalClient, loopbackBase } from './portal-client.js';
import { createSimulator } from './simulator.js';

/**
 * The demo traffic simulator (SIMULATOR=on; SIMULATOR_RATE ticks a second, each at most
 * one event: the traffic itself follows the demo families' plans; with the bundled
 * gateway simulator some pay online, and late payers answer reminders): starts
 * when the app is ready (routes registered, so it never runs in a half-built app) and
 * stops on close, waiting for the events in flight, before the pool closes.
 */
export default function simulatorPlugin(app: FastifyInstance, options: { db: Db; config: Config; /** This app serves the pay links and the hosted checkout page (not a worker). */ online?: boolean }) {
  if (!options.config.simulator.enabled) {
    return;
  }
  // With the bundled gateway simulator, families also pay online: through this server's own pay links and hosted checkout page.
  const portal = options.online === true && options.config.gateway.provider === 'simulator' ? httpPortalClient(() => loopbackBase(app)) : undefined;
  const simulator = createSimulator({
    db: options.db,
    ratePerSecond: options.config.simulator.ratePerSecond,
    log: app.log.child({ module: 'simulator' }),
    ...(portal === undefined ? {} : { portal }),
  });
  app.addHook('onReady', () => simulator.start());
  // Before the server stops listening: events in flight may be paying online through it.
  app.addHook('preClose', () => simulator.stop());
}
