import pg from 'pg';
import type { Db } from '../../db/database.js';
import type { Principal } from '../../shared/policy.js';
import { studentName } from '../billing/students.repository.js';
import { eventIdOf, eventTypeOf, type EventPosition, type LivePayment } from './events.js';
import { textFrames } from './frames.js';
import { comparePositions, eventsIn, horizon, positionBefore, type EventRow } from './live.repository.js';

/**
 * One hub per server instance. It follows the transactions table in commit-safe order
 * (see live.repository.ts) from a cursor of its own and fans each event out to the
 * connected clients allowed to see it.
 *
 *  - Woken by NOTIFY bursar_live (a dedicated LISTEN connection; every instance on the
 *    database gets it), and by a short poll, because an event can also become final
 *    when some unrelated older transaction ends. Delivery never depends on a
 *    notification arriving: the cursor is in the database's order, so a lost
 *    notification or a reconnect only delays events, never drops them.
 *  - A client that resumes with lastEventId is replayed from the database up to the
 *    hub's cursor, while live events for it are held back; then the held events after
 *    the replay are sent. No gap, no duplicate.
 *  - Fan-out is per audience, not per client: clients that see the same events the same
 *    way (same PII visibility, same schools) get the same bytes, so each batch of events
 *    is serialised and framed once per audience and written to each socket in one write.
 *  - Sending never waits: a client with more than `maxQueuedBytes` queued for it is
 *    disconnected (close code 1013, "try again later") so it cannot slow anyone else,
 *    nor hold the server's memory. It resumes with its lastEventId.
 *
 * What is queued for a client is not only what this process holds (ws's
 * `bufferedAmount`): the kernel's send buffer, and the client's receive buffer, take
 * megabytes before `bufferedAmount` grows at all (4 MB on a loopback connection), and a
 * write callback fires as soon as the kernel has the bytes. Only the client can say what
 * it has read, so the hub asks it, with the WebSocket ping every client must answer
 * (RFC 6455 §5.5.2; browsers do it without any page code): after every `ackEveryBytes`
 * sent, and at each heartbeat, it sends a ping carrying the count of bytes sent so far.
 * The pong echoes it: the client has read everything up to there, because frames are
 * read in order. Queued = sent − acknowledged (or `bufferedAmount`, if larger).
 * A client whose ping goes unanswered for `stallMs` is not reading at all and is
 * closed the same way, however little is queued. A closed client that does not read
 * its close frame either is cut off `closeGraceMs` later.
 */

export interface LiveSocket {
  readonly bufferedAmount: number;
  send(data: string): void;
  /** Writes ready-made WebSocket frames (see textFrames) as they are; absent when the connection cannot take them. */
  sendFrames?(frames: Buffer): void;
  /**
   * Sends a WebSocket ping carrying `mark`; the client's pong must come back through
   * onPong with the same mark. Without it the hub sees only `bufferedAmount`.
   */
  ping?(mark: number): void;
  onPong?(listener: (mark: number) => void): void;
  close(code?: number, reason?: string): void;
  /** Drops the connection without a closing handshake. */
  terminate?(): void;
  /** Hold writes back and flush them as one (TCP cork), around a batch of events. */
  cork?(): void;
  uncork?(): void;
}

export interface LiveHubOptions {
  db: Db;
  /** Connection settings for the LISTEN connection (the pool's). */
  listenConfig: pg.ClientConfig;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Poll for newly final events this often even without a notification. */
  pollMs?: number;
  heartbeatMs?: number;
  /** Bytes sent to a client and not yet acknowledged by it (see above) before it is closed; 1 MB. */
  maxQueuedBytes?: number;
  /** A ping is sent after this many unacknowledged bytes; a quarter of maxQueuedBytes. */
  ackEveryBytes?: number;
  /** A client that has not answered a ping for this long is closed; twice heartbeatMs. */
  stallMs?: number;
  /** A closed client that has not completed the closing handshake is cut off after this long; 5 s. */
  closeGraceMs?: number;
  /** Events per replay / pump query. */
  batchSize?: number;
}

export interface LiveMessage {
  type: 'payment_received' | 'payment_failed' | 'payment_refunded';
  id: string;
  payment: LivePayment;
  timestamp: string;
}

interface Client {
  socket: LiveSocket;
  principal: Principal;
  /** Clients with the same audience see the same events, masked the same way. */
  audience: string;
  /** Live events held back while the client's replay runs. */
  held: { position: EventPosition; row: EventRow }[] | null;
  /** The client has every event up to here (it resumed from another, further instance): skip those. */
  floor: EventPosition | undefined;
  /** Bytes written to the socket (about: string lengths for messages, exact for frames). */
  sent: number;
  /** Bytes the client has read, as its last pong said. */
  acked: number;
  /** `sent` when the outstanding ping left; valid while pingAt > 0. */
  pingMark: number;
  /** When the outstanding ping left (ms since epoch); 0 when none is outstanding. */
  pingAt: number;
}

export interface LiveHubStats {
  clients: number;
  delivered: number;
  dropped: number;
  /** Transactions the hub has read since it started, by status (every hub reads every one). */
  transactions: Record<string, number>;
}

const BATCH = 500;

function audienceOf(principal: Principal): string {
  return `${principal.pii}|${principal.schoolIds === 'all' ? '*' : [...principal.schoolIds].sort().join(',')}`;
}

const positionOf = (row: EventRow): EventPosition => ({ xactId: row.xactId, id: row.id });

export function createLiveHub(options: LiveHubOptions) {
  const { db, log } = options;
  const pollMs = options.pollMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxQueued = options.maxQueuedBytes ?? 1024 * 1024;
  const ackEvery = options.ackEveryBytes ?? Math.max(1, Math.floor(maxQueued / 4));
  const stallMs = options.stallMs ?? 2 * heartbeatMs;
  const closeGraceMs = options.closeGraceMs ?? 5000;
  const batchSize = options.batchSize ?? BATCH;
  const clients = new Set<Client>();
  const stats: LiveHubStats = { clients: 0, delivered: 0, dropped: 0, transactions: {} };
  let cursor: EventPosition | undefined;
  let listener: pg.Client | undefined;
  let stopped = false;
  let pumping: Promise<void> | undefined;
  let again = false;
  let poll: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;
  let reconnect: NodeJS.Timeout | undefined;

  function allowed(principal: Principal, schoolId: string): boolean {
    return principal.schoolIds === 'all' || principal.schoolIds.includes(schoolId);
  }

  function messageOf(row: EventRow, principal: Principal): string {
    const message: LiveMessage = {
      type: eventTypeOf(row.status),
      id: eventIdOf(row),
      payment: {
        transactionId: row.id,
        paymentId: row.paymentId,
        refundId: row.refundId,
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        invoiceId: row.invoiceId,
        invoiceNumber: row.invoiceNumber,
        studentName: row.firstName === null || row.lastName === null ? null : studentName(row.firstName, row.lastName, principal),
        amount: row.amount,
        currency: row.currency,
        method: row.method,
        status: row.status,
        gateway: row.gateway,
        failureCode: row.failureCode,
        createdAt: row.createdAt.toISOString(),
      },
      timestamp: new Date().toISOString(),
    };
    return JSON.stringify(message);
  }

  function drop(client: Client, reason: string): void {
    if (!clients.has(client)) {
      return;
    }
    clients.delete(client);
    stats.clients = clients.size;
    stats.dropped++;
    client.socket.close(1013, reason);
    // The close frame waits behind everything queued; a client that reads nothing never
    // answers it. (ws would wait 30 s.)
    if (client.socket.terminate) {
      setTimeout(() => client.socket.terminate?.(), closeGraceMs).unref();
    }
  }

  /** Bytes on their way to the client: sent and not acknowledged, or at least what this process still holds. */
  function queued(client: Client): number {
    const buffered = client.socket.bufferedAmount;
    if (client.socket.ping === undefined) {
      return buffered;
    }
    const unacknowledged = client.sent - client.acked;
    return unacknowledged > buffered ? unacknowledged : buffered;
  }

  /** Asks the client to acknowledge everything sent so far. */
  function ask(client: Client): void {
    client.pingMark = client.sent;
    client.pingAt = Date.now();
    client.socket.ping?.(client.sent);
  }

  function acknowledged(client: Client, mark: number): void {
    if (client.pingAt === 0 || mark !== client.pingMark) {
      return; // not the outstanding ping's (an unsolicited pong, or a late one)
    }
    client.acked = mark;
    client.pingAt = 0;
    if (client.sent - client.acked >= ackEvery && clients.has(client)) {
      ask(client);
    }
  }

  /** Accounts for `bytes` just written, and asks for an acknowledgement every ackEveryBytes. */
  function wrote(client: Client, bytes: number): void {
    client.sent += bytes;
    if (client.pingAt === 0 && client.sent - client.acked >= ackEvery && client.socket.ping !== undefined) {
      ask(client);
    }
  }

  /** Sends without waiting; a client too far behind is dropped instead. */
  function send(client: Client, data: string): boolean {
    if (queued(client) > maxQueued) {
      drop(client, 'too slow: resume with lastEventId');
      return false;
    }
    client.socket.send(data);
    wrote(client, data.length);
    return true;
  }

  /** Sends frames without waiting; a client too far behind is dropped instead. */
  function sendFrames(client: Client, frames: Buffer): boolean {
    if (queued(client) > maxQueued) {
      drop(client, 'too slow: resume with lastEventId');
      return false;
    }
    client.socket.sendFrames?.(frames);
    wrote(client, frames.length);
    return true;
  }

  /** Closes clients that have left a ping unanswered for stallMs: they are not reading. */
  function closeStalled(): void {
    const now = Date.now();
    for (const client of clients) {
      if (client.pingAt !== 0 && now - client.pingAt > stallMs) {
        drop(client, 'not reading: resume with lastEventId');
      }
    }
  }

  /**
   * Fans one batch of events out. Clients that are replaying, resuming past part of the
   * batch, or cannot take frames go event by event; everyone else gets the batch's
   * frames for their audience, built once, in one write.
   */
  function deliverBatch(rows: readonly EventRow[]): void {
    const first = rows[0];
    if (first === undefined) {
      return;
    }
    const json = new Map<string, string>();
    const messageAt = (index: number, principal: Principal): string => {
      const key = `${principal.pii}:${index}`;
      let data = json.get(key);
      if (data === undefined) {
        data = messageOf(rows[index] as EventRow, principal);
        json.set(key, data);
      }
      return data;
    };
    const frames = new Map<string, { bytes: Buffer; count: number }>();
    for (const client of clients) {
      if (client.floor !== undefined && comparePositions(client.floor, positionOf(first)) < 0) {
        client.floor = undefined; // every event from here on is after it
      }
      if (client.held !== null || client.floor !== undefined || client.socket.sendFrames === undefined) {
        rows.forEach((row, index) => deliverOne(client, row, () => messageAt(index, client.principal)));
        continue;
      }
      let batch = frames.get(client.audience);
      if (batch === undefined) {
        const messages: string[] = [];
        rows.forEach((row, index) => {
          if (allowed(client.principal, row.schoolId)) {
            messages.push(messageAt(index, client.principal));
          }
        });
        batch = { bytes: textFrames(messages), count: messages.length };
        frames.set(client.audience, batch);
      }
      if (batch.count > 0 && sendFrames(client, batch.bytes)) {
        stats.delivered += batch.count;
      }
    }
  }

  /** One event to one client: skipped if not its school or at/before its floor, held during its replay. */
  function deliverOne(client: Client, row: EventRow, message: () => string): void {
    const position = positionOf(row);
    if (!clients.has(client) || !allowed(client.principal, row.schoolId) || (client.floor !== undefined && comparePositions(position, client.floor) <= 0)) {
      return;
    }
    if (client.held !== null) {
      client.held.push({ position, row });
      return;
    }
    if (send(client, message())) {
      stats.delivered++;
    }
  }

  async function pumpOnce(): Promise<void> {
    const below = await horizon(db);
    if (cursor === undefined) {
      cursor = positionBefore(below);
      return;
    }
    for (;;) {
      const rows = await eventsIn(db, { after: cursor, below, limit: batchSize });
      // One write per client per batch instead of one per event.
      const corked = rows.length > 1 ? [...clients] : [];
      for (const client of corked) {
        client.socket.cork?.();
      }
      deliverBatch(rows);
      for (const row of rows) {
        stats.transactions[row.status] = (stats.transactions[row.status] ?? 0) + 1;
      }
      const last = rows[rows.length - 1];
      if (last !== undefined) {
        cursor = positionOf(last);
      }
      for (const client of corked) {
        client.socket.uncork?.();
      }
      if (rows.length < batchSize) {
        return;
      }
    }
  }

  /**
   * Runs the pump. A call while it runs makes it go round once more, and resolves with
   * that round: whoever awaits pump() has seen everything final at the time of the call.
   * (`pumping` is cleared in the same synchronous step as the last `again` check, so no
   * call can slip between them.)
   */
  function pump(): Promise<void> {
    again = true;
    pumping ??= (async () => {
      try {
        while (again && !stopped) {
          again = false;
          try {
            await pumpOnce();
          } catch (error) {
            if (!stopped) {
              log.error({ err: error }, 'live: reading events failed; retrying on the next poll');
            }
          }
        }
      } finally {
        pumping = undefined;
      }
    })();
    return pumping;
  }

  async function listen(): Promise<void> {
    const client = new pg.Client(options.listenConfig);
    client.on('notification', () => void pump());
    client.on('error', (error) => {
      log.warn({ err: error }, 'live: LISTEN connection lost; reconnecting');
      listener = undefined;
      void client.end().catch(() => undefined);
      scheduleReconnect();
    });
    await client.connect();
    await client.query('listen bursar_live');
    listener = client;
    // Whatever committed while (re)connecting is caught up from the cursor.
    void pump();
  }

  function scheduleReconnect(): void {
    if (stopped || reconnect) {
      return;
    }
    reconnect = setTimeout(() => {
      reconnect = undefined;
      listen().catch((error: unknown) => {
        log.warn({ err: error }, 'live: LISTEN reconnect failed; retrying');
        scheduleReconnect();
      });
    }, 1000);
  }

  return {
    stats,

    async start(): Promise<void> {
      await pump(); // sets the cursor at the current horizon: only new events are live
      await listen();
      poll = setInterval(() => void pump(), pollMs);
      heartbeat = setInterval(() => {
        const data = JSON.stringify({ type: 'heartbeat', timestamp: new Date().toISOString() });
        for (const client of clients) {
          if (client.held === null) {
            send(client, data);
          }
          // Every client is asked at least once per heartbeat, so one that stopped reading
          // is found (closeStalled) even when almost nothing is sent to it.
          if (client.pingAt === 0 && client.socket.ping !== undefined && clients.has(client)) {
            ask(client);
          }
        }
      }, heartbeatMs);
      watch = setInterval(closeStalled, Math.max(10, Math.min(1000, Math.floor(stallMs / 4))));
      poll.unref();
      heartbeat.unref();
      watch.unref();
    },

    async stop(): Promise<void> {
      stopped = true;
      clearInterval(poll);
      clearInterval(heartbeat);
      clearInterval(watch);
      clearTimeout(reconnect);
      await pumping;
      for (const client of clients) {
        client.socket.close(1001, 'server shutting down');
      }
      clients.clear();
      stats.clients = 0;
      await listener?.end().catch(() => undefined);
      listener = undefined;
    },

    /** The hub's position: every event up to it has been delivered. */
    position(): EventPosition | undefined {
      return cursor;
    },

    /** Reads and delivers newly final events now (tests; the poll does it anyway). */
    pump,

    /**
     * Adds a client. With `resumeAfter`, first replays its missed events (in its scope,
     * masked for it) from the database, holding live ones back meanwhile.
     * Returns a function that removes the client.
     */
    async connect(socket: LiveSocket, principal: Principal, resumeAfter?: EventPosition): Promise<() => void> {
      const client: Client = {
        socket,
        principal,
        audience: audienceOf(principal),
        held: resumeAfter === undefined ? null : [],
        floor: resumeAfter,
        sent: 0,
        acked: 0,
        pingMark: 0,
        pingAt: 0,
      };
      socket.onPong?.((mark) => acknowledged(client, mark));
      clients.add(client);
      stats.clients = clients.size;
      const remove = () => {
        clients.delete(client);
        stats.clients = clients.size;
      };
      const upTo = cursor ?? positionBefore(await horizon(db));
      send(client, JSON.stringify({ type: 'hello', lastEventId: eventIdOf(upTo), heartbeatMs, timestamp: new Date().toISOString() }));
      if (resumeAfter === undefined) {
        return remove;
      }
      const schoolIds = principal.schoolIds === 'all' ? undefined : principal.schoolIds;
      let after = resumeAfter;
      while (clients.has(client) && comparePositions(after, upTo) < 0) {
        const rows = await eventsIn(db, { after, upTo, schoolIds, limit: batchSize });
        for (const row of rows) {
          if (!send(client, messageOf(row, principal))) {
            return remove;
          }
          stats.delivered++;
        }
        if (rows.length < batchSize) {
          break;
        }
        const last = rows[rows.length - 1] as EventRow;
        after = { xactId: last.xactId, id: last.id };
      }
      // Live events that arrived meanwhile, except those the replay (or the client) already had.
      const floor = comparePositions(resumeAfter, upTo) > 0 ? resumeAfter : upTo;
      client.floor = floor;
      const held = client.held ?? [];
      client.held = null;
      for (const { position, row } of held) {
        if (comparePositions(position, floor) > 0 && clients.has(client)) {
          if (!send(client, messageOf(row, principal))) {
            break;
          }
          stats.delivered++;
        }
      }
      return remove;
    },
  };
}

export type LiveHub = ReturnType<typeof createLiveHub>;
