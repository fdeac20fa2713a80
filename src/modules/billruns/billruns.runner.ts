import type { Database, Db } from '../../db/database.js';

/**
 * What the routes need from the background worker: "start this run". The worker plugin
 * (registered after the routes, in processes that run jobs) registers its runner
 * against the app's database handle; without one (an `api` process) a queued run is
 * picked up by the next worker that ticks anywhere (it looks for queued runs).
 */
export interface BillRunRunner {
  /** Queues the run's job (keyed by the run id: a second enqueue changes nothing). */
  enqueue(run: { id: string; schoolId: string }): Promise<void>;
}

const runners = new WeakMap<Db, BillRunRunner>();

export function registerBillRunRunner(database: Database, runner: BillRunRunner): () => void {
  runners.set(database.db, runner);
  return () => {
    if (runners.get(database.db) === runner) {
      runners.delete(database.db);
    }
  };
}

export function billRunRunnerFor(db: Db): BillRunRunner | undefined {
  return runners.get(db);
}
