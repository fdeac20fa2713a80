import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { createSimulator } from './simulator.js';

/**
 * The demo traffic simulator (SIMULATOR=on; SIMULATOR_RATE ticks a second, each at most
 * one event: the traffic itself follows the demo families' plans): starts
 * when the app is ready (routes registered, so it never runs in a half-built app) and
 * stops on close, waiting for the events in flight, before the pool closes.
 */
export default function simulatorPlugin(app: FastifyInstance, options: { db: Db; config: Config }) {
  if (!options.config.simulator.enabled) {
    return;
  }
  const simulator = createSimulator({ db: options.db, ratePerSecond: options.config.simulator.ratePerSecond, log: app.log.child({ module: 'simulator' }) });
  app.addHook('onReady', () => simulator.start());
  app.addHook('onClose', () => simulator.stop());
}
