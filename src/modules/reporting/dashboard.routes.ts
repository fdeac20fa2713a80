import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';

/** Reporting engine: dashboard (SPEC §3 "Reporting engine"). */
export default function dashboardRoutes(_app: FastifyInstance, _options: { db: Db }) {
  // filled in by the reporting-engine work
}
