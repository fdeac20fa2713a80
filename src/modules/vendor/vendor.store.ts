import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import { checkFeedDefinition, type FeedDefinition } from './vendor.feed.js';

/**
 * Where the vendor simulator keeps its feed's definition across restarts. The
 * definition is small (a seed, a schedule, the rare injected re-sends), never the
 * entries, which are derived from it.
 *
 * - `createDatabaseFeedStore(db)`: one row in `app_meta`, the database's table of one-off
 *   facts. `npm start` uses it: the feed lives exactly as long as the database that holds
 *   the sync cursor, so a restart keeps both and a new database starts a new feed.
 * - `createFileFeedStore(file)`: a JSON file; `npm run vendor` uses one in the data
 *   directory.
 *
 * `create` stores a new definition unless one is already there (another instance won the
 * race) and returns the one stored, so every simulator on a database serves one feed.
 */
export interface FeedStore {
  load(): Promise<FeedDefinition | undefined>;
  create(definition: FeedDefinition): Promise<FeedDefinition>;
  save(definition: FeedDefinition): Promise<void>;
}

/** The app_meta key of the bundled simulator's feed. */
export const FEED_META_KEY = 'vendor_simulator_feed';

export function createDatabaseFeedStore(db: Db, key = FEED_META_KEY): FeedStore {
  const load = async () => {
    const row = await db.selectFrom('app_meta').select('value').where('key', '=', key).executeTakeFirst();
    return row === undefined ? undefined : checkFeedDefinition(row.value);
  };
  return {
    load,
    async create(definition) {
      await db.insertInto('app_meta').values({ key, value: JSON.stringify(definition) }).onConflict((oc) => oc.column('key').doNothing()).execute();
      const stored = await load();
      if (stored === undefined) {
        throw new Error(`the vendor simulator's feed was not stored (app_meta ${key})`);
      }
      return stored;
    },
    async save(definition) {
      await db
        .updateTable('app_meta')
        .set({ value: JSON.stringify(definition), updated_at: sql<Date>`now()` })
        .where('key', '=', key)
        .execute();
    },
  };
}

export function createFileFeedStore(file: string): FeedStore {
  const load = async () => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw error;
    }
    try {
      return checkFeedDefinition(JSON.parse(text));
    } catch {
      throw new Error(`${file} is not a vendor feed definition: delete it to start a new feed`);
    }
  };
  return {
    load,
    async create(definition) {
      await mkdir(path.dirname(file), { recursive: true });
      try {
        await writeFile(file, JSON.stringify(definition), { flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw error;
        }
      }
      return (await load()) ?? definition;
    },
    async save(definition) {
      // Written whole, then renamed: a crash leaves the old definition or the new one.
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(definition));
      await rename(temporary, file);
    },
  };
}
