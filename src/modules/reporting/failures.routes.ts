import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';

/** Reporting engine: failures (SPEC §3 "Reporting engine"). */
export default function failuresRoutes(_app: FastifyInstance, _options: { db: Db }) {
  // filled in by the reporting-engine work
}
