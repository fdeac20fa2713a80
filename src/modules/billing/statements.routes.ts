import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';

/** Student and school statements (JSON, CSV, PDF). */
export default function statementsRoutes(_app: FastifyInstance, _options: { db: Db; config: Config }) {
  // filled in by the statements work
}
