/**
 * The `bursar` command (bin/bursar.mjs; `npm start` is `bursar all`):
 *
 *   bursar api        HTTP API, web dashboard and live feed; as many as you like
 *   bursar worker     background jobs (gateway sync, maintenance) + /health, /metrics
 *   bursar all        both in one process (the embedded PostgreSQL unless DATABASE_URL)
 *   bursar migrate    applies pending migrations, then exits
 *   bursar create-admin <username>   a super_admin, password on stdin
 *   bursar seed …     the data-set generator (scripts/seed.ts; `bursar seed --help`)
 *   bursar simulate --through YYYY-MM-DD   the demo schools' days on a virtual clock (src/simulate.ts)
 *   bursar bench …    the benchmark (bench/run.ts)
 *
 * Only configuration and telemetry are imported statically: tracing has to be running
 * before the modules it instruments (http, pg, fastify) are loaded, so everything else is
 * imported once it has started. See docs/processes.md.
 *
 * Also runnable directly, `node --import tsx src/cli.ts <command>` (the container image).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startTelemetry } from './telemetry.js';

export const USAGE = `Usage: bursar <command> [options]

Commands:
  api       serve the HTTP API, the dashboard and the live feed (needs DATABASE_URL)
  worker    run the background jobs: gateway sync, maintenance (needs DATABASE_URL)
  all       api and worker in one process, on the embedded PostgreSQL unless
            DATABASE_URL is set (this is \`npm start\`)
  migrate   apply pending migrations and exit
  create-admin <username>
            create a super_admin; the password is read from stdin
            (printf '%s' "$PASSWORD" | bursar create-admin alice)
  seed      load a generated data set (bursar seed --help)
  simulate --through YYYY-MM-DD [--school ID|NAME]...
            run the demo schools' days on a virtual clock (bill runs, late fees,
            reminders, families paying) and print what happened (bursar simulate --help)
  bench     run the benchmark (bursar bench --help)

Configuration is read from the environment (see env.example).`;

const ROLES = ['all', 'api', 'worker'] as const;
type Role = (typeof ROLES)[number];
const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

/**
 * What the `auto` switches mean in each process. `all` keeps their usual meaning (on for
 * `npm start`, off under test and in production). An `api` process runs no background
 * work: the demo simulators only when switched on explicitly, never the sync worker or
 * the maintenance jobs. A `worker` runs the jobs (SYNC and MAINTENANCE on unless `off`)
 * and the simulators only when switched on.
 */
export function environmentFor(role: Role, env: Record<string, string | undefined>): Record<string, string | undefined> {
  if (role === 'all') {
    return env;
  }
  const explicit = (name: string, fallback: 'on' | 'off') => {
    const value = env[name]?.trim();
    return value === undefined || value === '' || value === 'auto' ? fallback : value;
  };
  const simulators = { SIMULATOR: explicit('SIMULATOR', 'off'), VENDOR_SIMULATOR: explicit('VENDOR_SIMULATOR', 'off') };
  if (role === 'api') {
    return { ...env, ...simulators, SYNC: 'off', MAINTENANCE: 'off' };
  }
  return { ...env, ...simulators, SYNC: explicit('SYNC', 'on'), MAINTENANCE: explicit('MAINTENANCE', 'on') };
}

function configFor(role: Role): Config {
  try {
    return loadConfig(environmentFor(role, process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs a script that reads its own arguments from process.argv, as if started directly. */
async function delegate(script: string, args: string[]): Promise<void> {
  const url = new URL(script, import.meta.url);
  process.argv = [process.argv[0] ?? process.execPath, url.pathname, ...args];
  await import(url.href);
}

export async function runCli(argv: readonly string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command !== undefined && isRole(command)) {
    if (args.length > 0) {
      console.error(`bursar ${command} takes no arguments (configuration comes from the environment)\n\n${USAGE}`);
      process.exit(2);
    }
    const config = configFor(command);
    const telemetry = await startTelemetry(config, { role: command });
    const { startProcess } = await import('./server.js');
    await startProcess(command, config, telemetry);
    return;
  }
  if (command === undefined) {
    console.error(`no command given\n\n${USAGE}`);
    process.exit(2);
  }
  switch (command) {
    case 'migrate': {
      const config = configFor('all');
      const { runMigrations } = await import('./server.js');
      await runMigrations(config);
      return;
    }
    case 'create-admin': {
      const [username, ...extra] = args;
      if (username === undefined || extra.length > 0) {
        console.error(`usage: bursar create-admin <username>   (the password on stdin)\n\n${USAGE}`);
        process.exit(2);
      }
      if (process.stdin.isTTY) {
        console.error('bursar create-admin reads the password from stdin: printf \'%s\' "$PASSWORD" | bursar create-admin <username>');
        process.exit(2);
      }
      const config = configFor('all');
      const { createAdmin, StartupError } = await import('./server.js');
      try {
        await createAdmin(config, username, (await readStdin()).replace(/\r?\n$/, ''));
      } catch (error) {
        if (error instanceof StartupError) {
          console.error(`[create-admin] ${error.message}`);
          process.exit(1);
        }
        throw error;
      }
      return;
    }
    case 'seed':
      return delegate('../scripts/seed.ts', args);
    case 'simulate': {
      const { runSimulate } = await import('./simulate.js');
      process.exitCode = await runSimulate(args);
      return;
    }
    case 'bench':
      return delegate('../bench/run.ts', args);
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      console.error(`unknown command: ${command}\n\n${USAGE}`);
      process.exit(2);
  }
}

// Started as the entry point (not imported by bin/bursar.mjs or main.ts): run it.
if (process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  await runCli(process.argv.slice(2));
}
