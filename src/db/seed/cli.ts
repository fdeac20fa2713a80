import { parseArgs } from 'node:util';
import { MAX_MONTHLY_COUNT } from '../../modules/feeplans/schedule.js';

/**
 * `npm run seed` arguments: flags override SEED_* environment variables, which override
 * the defaults (50 schools, 3 000 students, 12 months, 200 000 transactions, seed 42).
 */
export interface SeedCliOptions {
  schools: number;
  students: number;
  months: number;
  transactions: number;
  seed: string;
  reset: boolean;
  databaseUrl: string | undefined;
  /** Fixed "now" for reproducible dates (ISO 8601). */
  now: Date | undefined;
  help: boolean;
}

export const SEED_USAGE = `usage: npm run seed -- [options]

  --schools N        schools to create            (SEED_SCHOOLS, default 50)
  --students N       students over all schools    (SEED_STUDENTS, default 3000)
  --months N         months of the school year billed, up to now's (SEED_MONTHS, default 12; 1-24)
  --transactions N   gateway transactions in all  (SEED_TRANSACTIONS, default 200000)
  --seed S           random seed                  (SEED_RANDOM_SEED, default 42)
  --now ISO          date everything relative to this instant (default: now)
  --reset            delete all schools and their data first (users are kept)
  --database-url URL target database (default DATABASE_URL, else the embedded PostgreSQL)
  -h, --help         this text`;

export class SeedUsageError extends Error {}

function integer(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw.trim() === '') {
    return fallback;
  }
  const text = raw.trim().replace(/_/g, '');
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw new SeedUsageError(`${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  }
  return Number(text);
}

export function parseSeedCli(argv: readonly string[], env: Record<string, string | undefined> = process.env): SeedCliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        schools: { type: 'string' },
        students: { type: 'string' },
        months: { type: 'string' },
        transactions: { type: 'string' },
        seed: { type: 'string' },
        now: { type: 'string' },
        reset: { type: 'boolean', default: false },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new SeedUsageError((error as Error).message);
  }
  const pick = (flag: string | undefined, variable: string) => flag ?? env[variable];
  let now: Date | undefined;
  if (values.now !== undefined) {
    now = new Date(values.now);
    if (Number.isNaN(now.getTime())) {
      throw new SeedUsageError(`--now must be an ISO 8601 date (got ${JSON.stringify(values.now)})`);
    }
  }
  const seed = (pick(values.seed, 'SEED_RANDOM_SEED') ?? '42').trim();
  const months = integer('months', pick(values.months, 'SEED_MONTHS'), 12, 1);
  if (months > MAX_MONTHLY_COUNT) {
    throw new SeedUsageError(`months must be at most ${MAX_MONTHLY_COUNT}: one fee plan's monthly schedule (got ${months})`);
  }
  return {
    schools: integer('schools', pick(values.schools, 'SEED_SCHOOLS'), 50, 1),
    students: integer('students', pick(values.students, 'SEED_STUDENTS'), 3_000, 1),
    months,
    transactions: integer('transactions', pick(values.transactions, 'SEED_TRANSACTIONS'), 200_000, 0),
    seed: seed === '' ? '42' : seed,
    reset: values.reset,
    databaseUrl: values['database-url'],
    now,
    help: values.help,
  };
}
