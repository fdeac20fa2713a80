import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';

/** The billing reports of SPEC §3 "Reports" (seed 001). */
export default function billingReportsRoutes(_app: FastifyInstance, _options: { db: Db }) {
  // filled in by the reports work
}
