import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import type { EventPosition } from '../../src/modules/live/events.js';
import { comparePositions } from '../../src/modules/live/live.repository.js';

/**
 * Live events become final only once every older transaction in the whole PostgreSQL
 * cluster has ended, and test files run in parallel on one cluster. Tests that expect
 * an exact set of events first wait until the events written by their setup are final
 * (and, with `hubAt`, delivered by the hub), so those cannot arrive later mixed into
 * the events under test.
 */
/**
 * How long a test waits for events to become final. Generous, and not a latency bound:
 * a transaction of another test file running beside (a demo school's seed is one
 * transaction of several seconds, longer on a loaded machine) holds back every event
 * committed after it began, in every database of the cluster, until it ends.
 */
export const EVENTS_FINAL_WITHIN_MS = 90_000;

export async function eventsSettled(db: Db, hubAt?: EventPosition): Promise<boolean> {
  const { rows } = await sql<{ pending: boolean; xactId: string | null; id: string | null }>`
    select exists (select 1 from transactions where xact_id >= pg_snapshot_xmin(pg_current_snapshot())) as pending,
           last.xact_id::text as "xactId", last.id
      from (select 1) one
      left join lateral (select xact_id, id from transactions where xact_id is not null order by xact_id desc, id desc limit 1) last on true`.execute(db);
  const row = rows[0];
  if (row === undefined || row.pending) {
    return false;
  }
  if (hubAt === undefined || row.xactId === null || row.id === null) {
    return true;
  }
  return comparePositions(hubAt, { xactId: row.xactId, id: row.id }) >= 0;
}
