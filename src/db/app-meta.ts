import { sql } from 'kysely';
import type { DbOrTx } from './database.js';

const cache = new WeakMap<object, Map<string, Promise<string>>>();

/**
 * A per-installation value a migration wrote into app_meta (the pay-link key, the gateway
 * simulator's signing secret), read once per database handle and key; a failed read is
 * forgotten so the next call tries again.
 */
export function installationValue(db: DbOrTx, key: string): Promise<string> {
  let values = cache.get(db);
  if (values === undefined) {
    values = new Map();
    cache.set(db, values);
  }
  let value = values.get(key);
  if (value === undefined) {
    const entries = values;
    value = sql<{ value: string }>`select value #>> '{}' as value from app_meta where key = ${key}`.execute(db).then(({ rows }) => {
      const found = rows[0]?.value;
      if (found === undefined) {
        throw new Error(`app_meta has no ${key} (a migration writes it)`);
      }
      return found;
    });
    value.catch(() => entries.delete(key));
    values.set(key, value);
  }
  return value;
}
