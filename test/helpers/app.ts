import type pg from 'pg';
import type { FastifyInstance, FastifyServerOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDatabase, type Db } from '../../src/db/database.js';
import type { Role } from '../../src/db/types.js';
import { hashPassword } from '../../src/modules/auth/passwords.js';
import { createUsersRepository } from '../../src/modules/auth/users.repository.js';
import type { Clock } from '../../src/shared/clock.js';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { createTestDatabase, sharedTemplate } from './db.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';
export const PASSWORD = 'Correct-Horse-9';

export interface TestApp {
  app: FastifyInstance;
  db: Db;
  /** The pg pool behind `db` (to check for leaked or busy connections). */
  pool: pg.Pool;
  config: Config;
  url: string;
  close(): Promise<void>;
}

/**
 * The demo data (seedDemoData with PASSWORD, seeded today) in a template of this run:
 * seeded once, by the first file that needs it, and cloned in milliseconds after that.
 */
export function demoTemplate(): Promise<string> {
  return sharedTemplate('demo', async (url) => {
    const handle = createDatabase({ connectionString: url, max: 2 });
    try {
      await seedDemoData(handle.db, { password: PASSWORD });
    } finally {
      await handle.close();
    }
  });
}

/**
 * The real app on its own fresh database. `env` overrides configuration variables;
 * `demo` starts it on a copy of the demo data (see demoTemplate).
 */
export async function createTestApp(
  options: { env?: Record<string, string>; logger?: FastifyServerOptions['logger']; clock?: Clock; demo?: boolean } = {},
): Promise<TestApp> {
  const database = await createTestDatabase(options.demo === true ? { template: await demoTemplate() } : {});
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '100000',
    ...options.env,
    DATABASE_URL: database.url,
  });
  const handle = createDatabase({ connectionString: database.url, max: 5 });
  const app = await buildApp({ config, database: handle, jwtSecret: TEST_JWT_SECRET, logger: options.logger ?? false, ...(options.clock ? { clock: options.clock } : {}) });
  await app.ready();
  return {
    app,
    db: handle.db,
    pool: handle.pool,
    config,
    url: database.url,
    async close() {
      try {
        await app.close();
        await handle.close();
      } finally {
        await database.drop();
      }
    },
  };
}

export async function insertSchool(db: Db, name = 'Test School'): Promise<string> {
  const row = await db.insertInto('schools').values({ name }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** Inserts a user directly (bypassing the API) with PASSWORD unless given. */
export async function insertUser(
  db: Db,
  user: { username: string; role: Role; schoolIds?: string[]; password?: string; isActive?: boolean; guardian?: { schoolId: string; id: string } },
): Promise<string> {
  const users = createUsersRepository();
  const id = await users.insert(db, {
    username: user.username,
    passwordHash: await hashPassword(user.password ?? PASSWORD),
    role: user.role,
    ...(user.role === 'guardian' ? { guardian: user.guardian ?? (await anyGuardian(db)) } : {}),
  });
  await users.replaceSchools(db, id, user.schoolIds ?? []);
  if (user.isActive === false) {
    await users.update(db, id, { isActive: false });
  }
  return id;
}

/**
 * A guardian for a guardian user made without one: a new family with one guardian in a
 * new school of its own, so the user's family is nobody else's.
 */
async function anyGuardian(db: Db): Promise<{ schoolId: string; id: string }> {
  const school = await db.insertInto('schools').values({ name: `Guardian School ${Math.random().toString(36).slice(2, 8)}` }).returning('id').executeTakeFirstOrThrow();
  const family = await db
    .insertInto('families')
    .values({ school_id: school.id, name: 'Guardian family', reference: `GUA-${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}-0` })
    .returning('id')
    .executeTakeFirstOrThrow();
  const guardian = await db.insertInto('guardians').values({ school_id: school.id, family_id: family.id, first_name: 'Guard', last_name: 'Ian' }).returning('id').executeTakeFirstOrThrow();
  return { schoolId: school.id, id: guardian.id };
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export async function login(app: FastifyInstance, username: string, password = PASSWORD): Promise<Tokens> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  if (response.statusCode !== 200) {
    throw new Error(`login as ${username} failed: ${response.statusCode} ${response.body}`);
  }
  return response.json<Tokens>();
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asserts the RFC 9457 shape and returns the parsed problem. */
export function problemOf(response: LightMyRequestResponse) {
  const type = String(response.headers['content-type']);
  if (!type.startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got ${type}: ${response.body}`);
  }
  return response.json<{
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
    requestId: string;
    errors?: { field: string; in?: string; message: string }[];
  }>();
}
