/**
 * `npm start`: everything in one process (`bursar all`, see src/cli.ts and
 * src/server.ts): the embedded PostgreSQL unless DATABASE_URL, migrations, demo data on
 * first start, the API and the background jobs. SIGINT/SIGTERM drain and stop it all.
 */
import { runCli } from './cli.js';

await runCli(['all']);
