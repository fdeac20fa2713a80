import type { Database } from '../../db/database.js';
import type { FeedName } from './sync.tables.js';

/**
 * What the routes need from the background worker: "run this feed soon". The worker
 * plugin (registered after the routes) registers its runner against the app's database;
 * without one (SYNC off here) a run request is still recorded and the next worker that
 * ticks anywhere picks it up.
 */
export interface SyncRunner {
  /** Queues a pass over the feed; false when one is already queued. */
  enqueue(feed: FeedName): Promise<boolean>;
}

const runners = new WeakMap<Database, SyncRunner>();

export function registerSyncRunner(database: Database, runner: SyncRunner): () => void {
  runners.set(database, runner);
  return () => {
    if (runners.get(database) === runner) {
      runners.delete(database);
    }
  };
}

export function syncRunnerFor(database: Database): SyncRunner | undefined {
  return runners.get(database);
}
