import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { DB } from '../../db/types.js';
import type { DbOrTx } from '../../db/database.js';
import type { Role } from '../../db/types.js';
import type { Principal } from '../../shared/policy.js';
import type { WebhookDeliveryStatus } from '../../db/types.js';

export interface EndpointRow {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  schoolIds: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  ownerId: string;
  ownerUsername: string;
  ownerRole: Role;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeliveryRow {
  id: string;
  endpointId: string;
  schoolId: string;
  eventId: string;
  eventType: string;
  objectId: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  deliveredAt: Date | null;
  createdAt: Date;
  lastAttempt: { attempt: number; responseCode: number | null; latencyMs: number; error: string | null; requestBody: string; attemptedAt: string } | null;
}

type Caller = Pick<Principal, 'userId' | 'role' | 'schoolIds'>;

/**
 * Which endpoints a caller may see and change: a super_admin every one; anyone else the
 * endpoints they own, and those limited to schools that are all theirs (another school's
 * endpoint is indistinguishable from a missing one: 404).
 */
function visibleTo(eb: ExpressionBuilder<DB, 'webhook_endpoints'>, caller: Caller): Expression<SqlBool> {
  if (caller.schoolIds === 'all') {
    return sql<boolean>`true`;
  }
  return eb.or([
    eb('webhook_endpoints.owner_id', '=', caller.userId),
    sql<boolean>`(webhook_endpoints.school_ids is not null and webhook_endpoints.school_ids <@ ${[...caller.schoolIds]}::uuid[])`,
  ]);
}

export function createWebhooksRepository() {
  const endpoints = (db: DbOrTx, caller: Caller) =>
    db
      .selectFrom('webhook_endpoints')
      .innerJoin('users', 'users.id', 'webhook_endpoints.owner_id')
      .select([
        'webhook_endpoints.id',
        'webhook_endpoints.url',
        'webhook_endpoints.description',
        'webhook_endpoints.events',
        'webhook_endpoints.school_ids as schoolIds',
        'webhook_endpoints.enabled',
        'webhook_endpoints.disabled_reason as disabledReason',
        'webhook_endpoints.disabled_at as disabledAt',
        'webhook_endpoints.owner_id as ownerId',
        'users.username as ownerUsername',
        'users.role as ownerRole',
        'webhook_endpoints.created_at as createdAt',
        'webhook_endpoints.updated_at as updatedAt',
      ])
      .where('webhook_endpoints.deleted_at', 'is', null)
      .where((eb) => visibleTo(eb, caller));

  return {
    /** Newest first, after `beforeId` (exclusive), limit + 1 rows for toPage. */
    list(db: DbOrTx, caller: Caller, page: { limit: number; beforeId?: string }): Promise<EndpointRow[]> {
      return endpoints(db, caller)
        .$if(page.beforeId !== undefined, (qb) => qb.where('webhook_endpoints.id', '<', page.beforeId ?? ''))
        .orderBy('webhook_endpoints.id', 'desc')
        .limit(page.limit + 1)
        .execute();
    },

    find(db: DbOrTx, caller: Caller, id: string, options: { forUpdate?: boolean } = {}): Promise<EndpointRow | undefined> {
      return endpoints(db, caller)
        .where('webhook_endpoints.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('webhook_endpoints'))
        .executeTakeFirst();
    },

    async insert(db: DbOrTx, values: { ownerId: string; url: string; description: string | null; events: string[]; schoolIds: string[] | null; secret: string }): Promise<string> {
      const row = await db
        .insertInto('webhook_endpoints')
        .values({ owner_id: values.ownerId, url: values.url, description: values.description, events: values.events, school_ids: values.schoolIds, secret: values.secret })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async update(
      db: DbOrTx,
      id: string,
      values: {
        url?: string;
        description?: string | null;
        events?: string[];
        schoolIds?: string[] | null;
        enabled?: boolean;
        /** A new secret; the one it replaces keeps signing until `previousUntil` (null: it stops at once). */
        secret?: { secret: string; previousUntil: Date | null };
      },
    ): Promise<void> {
      await db
        .updateTable('webhook_endpoints')
        .set({
          ...(values.url === undefined ? {} : { url: values.url }),
          ...(values.description === undefined ? {} : { description: values.description }),
          ...(values.events === undefined ? {} : { events: values.events }),
          ...(values.schoolIds === undefined ? {} : { school_ids: values.schoolIds }),
          ...(values.secret === undefined
            ? {}
            : {
                secret: values.secret.secret,
                previous_secret: values.secret.previousUntil === null ? null : sql<string>`webhook_endpoints.secret`,
                previous_secret_until: values.secret.previousUntil,
              }),
          ...(values.enabled === undefined ? {} : values.enabled ? { enabled: true, disabled_at: null, disabled_reason: null } : { enabled: false, disabled_at: sql<Date>`now()`, disabled_reason: 'disabled by a person' }),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .execute();
    },

    /** An endpoint enabled again: its pending deliveries go now, with a new retry window. */
    async restartPending(db: DbOrTx, endpointId: string, now: Date): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: now, first_attempt_at: null, lease_until: null, updated_at: sql<Date>`now()` })
        .where('endpoint_id', '=', endpointId)
        .where('status', '=', 'pending')
        .execute();
    },

    async softDelete(db: DbOrTx, id: string): Promise<void> {
      await db.updateTable('webhook_endpoints').set({ deleted_at: sql<Date>`now()`, enabled: false, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },

    /** The schools among `ids` that exist (not deleted). */
    async existingSchools(db: DbOrTx, ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) {
        return new Set();
      }
      const rows = await db.selectFrom('schools').select('id').where('id', 'in', [...ids]).where('deleted_at', 'is', null).execute();
      return new Set(rows.map((row) => row.id));
    },

    /** A school a test event of this endpoint can belong to: one it lists, else one its owner may see. */
    async schoolForTest(db: DbOrTx, endpoint: EndpointRow, ownerSeesAll: boolean): Promise<string | undefined> {
      if (endpoint.schoolIds !== null && endpoint.schoolIds.length > 0) {
        return endpoint.schoolIds[0];
      }
      const row = ownerSeesAll
        ? await db.selectFrom('schools').select('id').where('deleted_at', 'is', null).orderBy('id').limit(1).executeTakeFirst()
        : await db.selectFrom('user_schools').select('school_id as id').where('user_id', '=', endpoint.ownerId).orderBy('school_id').limit(1).executeTakeFirst();
      return row?.id;
    },

    /** An event for this endpoint only, and its delivery (the "send test event" button). */
    async insertTestEvent(db: DbOrTx, endpointId: string, schoolId: string, data: Record<string, unknown>): Promise<{ eventId: string; deliveryId: string }> {
      const { rows } = await sql<{ eventId: string; deliveryId: string }>`
        with ev as (
          insert into webhook_events (school_id, type, object_id, data)
          values (${schoolId}, 'endpoint.test', ${endpointId}, ${JSON.stringify(data)}::jsonb)
          returning school_id, id, seq, object_id
        ),
        d as (
          insert into webhook_deliveries (school_id, event_id, event_seq, endpoint_id, object_id)
          select ev.school_id, ev.id, ev.seq, ${endpointId}, ev.object_id from ev
          returning id, event_id
        )
        select event_id as "eventId", id as "deliveryId" from d`.execute(db);
      const row = rows[0];
      if (row === undefined) {
        throw new Error('insert of a test event returned no row');
      }
      return row;
    },

    /** An endpoint's delivery log, newest first, after `beforeId` (exclusive), limit + 1 rows for toPage. */
    async deliveries(db: DbOrTx, endpointId: string, page: { limit: number; beforeId?: string; status?: WebhookDeliveryStatus; id?: string }): Promise<DeliveryRow[]> {
      const { rows } = await sql<DeliveryRow>`
        select d.id, d.endpoint_id as "endpointId", d.school_id as "schoolId", d.event_id as "eventId", ev.type as "eventType",
               d.object_id as "objectId", d.status, d.attempts, d.next_attempt_at as "nextAttemptAt", d.delivered_at as "deliveredAt",
               d.created_at as "createdAt", last.attempt as "lastAttempt"
          from webhook_deliveries d
          join webhook_events ev on ev.school_id = d.school_id and ev.id = d.event_id
          left join lateral (
            select json_build_object('attempt', a.attempt, 'responseCode', a.response_code, 'latencyMs', a.latency_ms, 'error', a.error,
                                     'requestBody', a.request_body,
                                     'attemptedAt', to_char(a.attempted_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) as attempt
              from webhook_attempts a
             where a.school_id = d.school_id and a.delivery_id = d.id
             order by a.attempt desc, a.id desc
             limit 1
          ) last on true
         where d.endpoint_id = ${endpointId}
           ${page.beforeId === undefined ? sql`` : sql`and d.id < ${page.beforeId}`}
           ${page.status === undefined ? sql`` : sql`and d.status = ${page.status}`}
           ${page.id === undefined ? sql`` : sql`and d.id = ${page.id}`}
         order by d.id desc
         limit ${page.limit + 1}`.execute(db);
      return rows;
    },

    /** A delivery and its endpoint id, locked. */
    async findDelivery(db: DbOrTx, id: string): Promise<{ schoolId: string; id: string; endpointId: string } | undefined> {
      return db
        .selectFrom('webhook_deliveries')
        .select(['school_id as schoolId', 'id', 'endpoint_id as endpointId'])
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
    },

    /** Replay: the delivery goes again now, with the same webhook-id, in a new retry window. */
    async replay(db: DbOrTx, delivery: { schoolId: string; id: string }, now: Date): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ status: 'pending', next_attempt_at: now, first_attempt_at: null, lease_until: null, delivered_at: null, updated_at: sql<Date>`now()` })
        .where('school_id', '=', delivery.schoolId)
        .where('id', '=', delivery.id)
        .execute();
    },

  };
}

export type WebhooksRepository = ReturnType<typeof createWebhooksRepository>;
