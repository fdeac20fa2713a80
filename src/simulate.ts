import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { createDatabase, type Database } from './db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { seedDemoData } from './db/seed-demo.js';
import type { Language } from './modules/assistant/format.js';
import { httpPortalClient, loopbackBase } from './modules/simulator/portal-client.js';
import { formatSummary, isCalendarDate, SimulateError, simulateSchoolYear } from './modules/simulator/school-year.js';
import { VirtualClock } from './modules/sync/clock.js';

/**
 * `bursar simulate --through YYYY-MM-DD [--school …]` (src/modules/simulator/school-year.ts):
 * the demo schools' days on a virtual clock, then what happened. It opens the database
 * `npm start` uses (the embedded one in BURSAR_DATA_DIR unless DATABASE_URL), migrates it
 * and seeds the demo if it is new, and serves the app on a loopback port of its own —
 * with no background jobs, and its clock the virtual one — so families paying online go
 * through the real pay-link, checkout, hosted-page and webhook routes.
 */
export const SIMULATE_USAGE = `Usage: bursar simulate --through YYYY-MM-DD [--school ID|NAME]... [options]

Runs the demo schools' days one after another on a virtual clock, from today (or the
day after the last day already run) through the given date: bill runs, late fees,
reminders, and the families paying (on time, after a reminder, late, partly, never;
some online through a pay link and the gateway simulator's page). Then prints what
happened: billed, collected, late fees, reminders by channel, outstanding by age.

It acts only on demo schools with simulated traffic on, on the database \`npm start\`
uses (stop \`npm start\` first when it runs on the embedded database). Reminders are
written to the outbox, never sent.

Options:
  --through YYYY-MM-DD   the last day to simulate (at most 400 days at a time)
  --school ID|NAME       only this demo school (repeat for several); default: all
  --language es|en       the summary's language (default: from LANG)
  --json                 print the summary as JSON (amounts in minor units)
  --seed N               the families' random choices (default: the time)
  -h, --help             this text`;

export interface SimulateArgs {
  through: string;
  schools: string[] | undefined;
  language: Language;
  json: boolean;
  seed: number | undefined;
}

/** Reads the command line; a problem is a SimulateError naming the option, `help` when asked for. */
export function parseSimulateArgs(argv: readonly string[], env: Record<string, string | undefined> = process.env): SimulateArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        through: { type: 'string' },
        school: { type: 'string', multiple: true },
        language: { type: 'string' },
        json: { type: 'boolean', default: false },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new SimulateError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    return 'help';
  }
  if (values.through === undefined) {
    throw new SimulateError('--through YYYY-MM-DD is required: the last day to simulate');
  }
  if (!isCalendarDate(values.through)) {
    throw new SimulateError(`--through ${values.through}: not a date (YYYY-MM-DD)`);
  }
  const language = values.language ?? ((env.LC_ALL ?? env.LANG ?? '').toLowerCase().startsWith('es') ? 'es' : 'en');
  if (language !== 'es' && language !== 'en') {
    throw new SimulateError(`--language ${language}: es or en`);
  }
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!/^\d{1,9}$/.test(values.seed)) {
      throw new SimulateError(`--seed ${values.seed}: a whole number (up to nine digits)`);
    }
  }
  const schools = values.school?.map((school) => school.trim()).filter((school) => school !== '');
  return { through: values.through, schools: schools === undefined || schools.length === 0 ? undefined : schools, language, json: values.json, seed };
}

/** The configuration of the simulation's own app: no background work, the bundled gateway, no per-IP limit for its own families. */
export function simulateConfig(env: Record<string, string | undefined>): Config {
  return loadConfig({
    ...env,
    SIMULATOR: 'off',
    VENDOR_SIMULATOR: 'off',
    SYNC: 'off',
    MAINTENANCE: 'off',
    COLLECTIONS: 'off',
    MESSAGES: 'off',
    GATEWAY: 'simulator',
    GATEWAY_SIMULATOR_WEBHOOK_URL: '',
    RATE_LIMIT_MAX: '1000000',
  });
}

/** Runs the command; answers the process's exit status. */
export async function runSimulate(argv: readonly string[]): Promise<number> {
  let args: SimulateArgs | 'help';
  try {
    args = parseSimulateArgs(argv);
  } catch (error) {
    console.error(`bursar simulate: ${error instanceof Error ? error.message : String(error)}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (args === 'help') {
    console.log(SIMULATE_USAGE);
    return 0;
  }
  const say = (message: string) => console.error(`[simulate] ${message}`);
  const config = simulateConfig(process.env);
  let embedded: EmbeddedPostgres | undefined;
  let database: Database | undefined;
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    let url = config.database.url;
    if (!url) {
      say(`starting embedded PostgreSQL (data in ${path.resolve(config.dataDir)})`);
      try {
        embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log: () => undefined });
      } catch (error) {
        throw new SimulateError(
          `the embedded PostgreSQL in ${path.resolve(config.dataDir)} did not start (is \`npm start\` running on it? stop it first, or set DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      url = embedded.url;
    }
    await migrate(url, { log: () => undefined });
    database = createDatabase({ connectionString: url, max: config.database.poolMax, applicationName: 'bursar-simulate' });
    if (config.seed.demo && (await seedDemoData(database.db, { password: config.seed.password, publicUrl: config.publicUrl }))) {
      say('demo data created (a new database)');
    }
    const clock = new VirtualClock(Date.now());
    app = await buildApp({ config, database, role: 'api', jwtSecret: randomBytes(48).toString('base64url'), logger: { level: 'warn', stream: process.stderr }, clock });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const listening = app;
    const summary = await simulateSchoolYear({
      db: database.db,
      clock,
      through: args.through,
      ...(args.schools === undefined ? {} : { schools: args.schools }),
      portal: httpPortalClient(() => loopbackBase(listening)),
      reminders: { sending: new Set(), publicUrl: config.publicUrl },
      fromHour: config.collections.fromHour,
      log: app.log,
      ...(args.seed === undefined ? {} : { seed: args.seed }),
      onDay: (day, stats) => {
        if (day.endsWith('-01') || day === args.through) {
          say(`${day}: ${stats.payments} payments, ${stats.invoices} bills issued so far`);
        }
      },
    });
    console.log(args.json ? JSON.stringify(summary, null, 2) : formatSummary(summary, args.language));
    return 0;
  } catch (error) {
    if (error instanceof SimulateError) {
      console.error(`bursar simulate: ${error.message}`);
      return 2;
    }
    console.error('bursar simulate failed:', error);
    return 1;
  } finally {
    await app?.close().catch(() => undefined);
    await database?.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
  }
}
