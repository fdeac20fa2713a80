import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { freshAccessToken } from '../../lib/api';
import { eventOfTransaction, isEventMessage, recentTransactionsQuery, type LiveEvent, type ServerMessage, type Transaction } from './api';

export type LiveStatus = 'connecting' | 'connected' | 'reconnecting' | 'paused';

/** At most this many events are kept on screen (newest first); older ones scroll off. */
export const MAX_EVENTS = 1000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** Silence longer than this many heartbeats means a dead link: reconnect. */
const SILENT_HEARTBEATS = 3;
/** Close code of a client that fell behind: resume at once from the last event processed. */
const CLOSE_TOO_SLOW = 1013;

export interface LiveFeed {
  /** Newest first: live events, then the history rows not already among them. */
  events: LiveEvent[];
  status: LiveStatus;
  paused: boolean;
  /** Events received while paused, not shown yet. */
  buffered: number;
  pause: () => void;
  resume: () => void;
  /** Reconnect attempts since the last successful connection. */
  attempts: number;
  /**
   * GET /transactions, read once the first hello arrived (or the first connection
   * failed): it then holds every event up to the hello's position, and the socket
   * every later one, so nothing falls between them. Disabled (pending) until then.
   */
  history: UseQueryResult<{ data: Transaction[]; nextCursor: string | null }>;
}

/**
 * The /api/v1/live WebSocket with resume and pause.
 *
 * - The first connection has no lastEventId: the server's hello says which position it
 *   starts from, and the history (GET /transactions, loaded after the hello) covers
 *   everything up to there. After that the id of the last event processed is the resume
 *   position: every reconnection sends it as `lastEventId` and the server replays what
 *   was missed, in order.
 * - Close code 1013 (fell behind) reconnects at once; anything else with exponential
 *   backoff and jitter (1 s … 30 s). Three heartbeats of silence count as a dead link.
 * - Pause keeps the connection open and buffers events without rendering them; resume
 *   shows every buffered event, in order. The resume position keeps moving while
 *   paused, so a reconnection during a pause loses nothing either.
 * - Events are deduplicated by id across history, replays and buffers.
 */
export function useLiveFeed(): LiveFeed {
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [status, setStatus] = useState<'connecting' | 'connected' | 'reconnecting'>('connecting');
  const [paused, setPaused] = useState(false);
  const [buffered, setBuffered] = useState(0);
  const [attempts, setAttempts] = useState(0);
  const [synced, setSynced] = useState(false);

  const seen = useRef(new Set<string>());
  const buffer = useRef<LiveEvent[]>([]);
  const pausedRef = useRef(false);
  const lastEventId = useRef<string | null>(null);
  const historyMerged = useRef(false);

  const historyQuery = useQuery(recentTransactionsQuery(synced));
  const history = useMemo(() => historyQuery.data?.data.map(eventOfTransaction), [historyQuery.data]);

  /** Shows events that arrived oldest first on top of the list (newest first). */
  const show = useCallback((incoming: LiveEvent[]) => {
    if (incoming.length === 0) {
      return;
    }
    setEvents((current) => [...incoming.slice().reverse(), ...current].slice(0, Math.max(MAX_EVENTS, incoming.length)));
  }, []);

  // The history goes below the live events, once, without the ones already shown.
  useEffect(() => {
    if (!history || historyMerged.current) {
      return;
    }
    historyMerged.current = true;
    const fresh = history.filter((event) => !seen.current.has(event.id));
    for (const event of fresh) {
      seen.current.add(event.id);
    }
    setEvents((current) => [...current, ...fresh].slice(0, MAX_EVENTS));
  }, [history]);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let silenceTimer: ReturnType<typeof setTimeout> | undefined;
    let silenceMs = 45_000;
    let attempt = 0;
    let disposed = false;

    const armSilence = () => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => socket?.close(4000, 'no heartbeat'), silenceMs);
    };

    const scheduleReconnect = (immediately: boolean) => {
      if (disposed) {
        return;
      }
      setSynced(true);
      setStatus('reconnecting');
      if (immediately) {
        retryTimer = setTimeout(() => void connect(), 0);
        return;
      }
      attempt += 1;
      setAttempts(attempt);
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
      retryTimer = setTimeout(() => void connect(), delay / 2 + Math.random() * (delay / 2));
    };

    const onEvent = (event: LiveEvent) => {
      // The stream is in order: whatever happens to the event, it is the new resume position.
      lastEventId.current = event.id;
      if (seen.current.has(event.id)) {
        return;
      }
      seen.current.add(event.id);
      if (pausedRef.current) {
        buffer.current.push(event);
        setBuffered(buffer.current.length);
      } else {
        show([event]);
      }
    };

    const connect = async () => {
      const token = await freshAccessToken();
      if (disposed) {
        return;
      }
      if (!token) {
        scheduleReconnect(false);
        return;
      }
      const params = new URLSearchParams({ token });
      if (lastEventId.current) {
        params.set('lastEventId', lastEventId.current);
      }
      const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
      const ws = new WebSocket(`${scheme}://${window.location.host}/api/v1/live?${params.toString()}`);
      socket = ws;
      ws.onopen = () => armSilence();
      ws.onmessage = (message: MessageEvent<string>) => {
        let parsed: ServerMessage;
        try {
          parsed = JSON.parse(message.data) as ServerMessage;
        } catch {
          return;
        }
        if (parsed.type === 'hello') {
          silenceMs = parsed.heartbeatMs * SILENT_HEARTBEATS;
          // Only the first connection starts at the server's position; later ones resume.
          lastEventId.current ??= parsed.lastEventId;
          // LIVE once the server has taken us in (the hello), not merely once the socket opened.
          attempt = 0;
          setAttempts(0);
          setStatus('connected');
          setSynced(true);
        } else if (isEventMessage(parsed)) {
          onEvent({ id: parsed.id, type: parsed.type, payment: parsed.payment });
        }
        armSilence();
      };
      ws.onclose = (close) => {
        clearTimeout(silenceTimer);
        if (socket === ws) {
          socket = null;
          scheduleReconnect(close.code === CLOSE_TOO_SLOW);
        }
      };
    };

    void connect();
    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      clearTimeout(silenceTimer);
      const open = socket;
      socket = null;
      open?.close(1000, 'page left');
    };
  }, [show]);

  const pause = useCallback(() => {
    pausedRef.current = true;
    setPaused(true);
  }, []);

  const resume = useCallback(() => {
    pausedRef.current = false;
    setPaused(false);
    const pending = buffer.current;
    buffer.current = [];
    setBuffered(0);
    show(pending);
  }, [show]);

  return { events, status: paused ? 'paused' : status, paused, buffered, pause, resume, attempts, history: historyQuery };
}
