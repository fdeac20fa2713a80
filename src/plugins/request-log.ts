import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * Request logging: one line per request, written when it completes, instead of
 * Fastify's two ("incoming request" with the request, "request completed" with the
 * status and time), which doubled every request in the console.
 *
 * The line keeps Fastify's names, so log tooling that reads them still works:
 * `{requestId, req: {method, url, host, remoteAddress, remotePort}, res: {statusCode},
 * responseTime, msg: "request completed"}` (`req.url` with any `token` redacted, see
 * app.ts). A WebSocket handshake is taken over by the live feed and never "completes"
 * for Fastify: it is logged once, with status 101, when its connection closes
 * (responseTime is then how long it was open). Probes and scrapes are not logged.
 *
 * In development on a terminal, `compactLogDestination` prints each JSON line as one
 * short readable line.
 */

/** Probes and scrapes every few seconds would drown the request log. */
export function isQuietRequest(request: FastifyRequest): boolean {
  return request.url.startsWith('/health') || request.url === '/metrics';
}

const LOGGED = Symbol('bursar.requestLogged');
type Marked = FastifyRequest & { [LOGGED]?: boolean };

export class OneLinePerRequest extends LogController {
  constructor(options: { requestIdLogLabel: string }) {
    super({ requestIdLogLabel: options.requestIdLogLabel, disableRequestLogging: isQuietRequest });
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (request.headers.upgrade === undefined || this.isLogDisabled(request)) {
      return;
    }
    // An upgrade the handler takes over never finishes its HTTP response: log it when
    // its connection ends, unless it was answered over HTTP (refused) and logged then.
    request.raw.socket?.once('close', () => {
      if ((request as Marked)[LOGGED] !== true) {
        (request as Marked)[LOGGED] = true;
        request.log.info({ req: request, res: { statusCode: 101 }, responseTime: reply.elapsedTime }, 'request completed');
      }
    });
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request) || (request as Marked)[LOGGED] === true) {
      return;
    }
    (request as Marked)[LOGGED] = true;
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** pino's own fields, and those the compact line shows in its own place. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'requestId', 'req', 'res', 'responseTime', 'err']);

interface Entry {
  level?: number;
  time?: number;
  msg?: string;
  requestId?: string;
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
  err?: { message?: string; stack?: string };
  [field: string]: unknown;
}

/**
 * One pino JSON line as one short line for a person:
 * `14:03:27 INFO  GET /api/v1/invoices?limit=50 200 12 ms  3f6c…` for a request,
 * `14:03:27 WARN  live: LISTEN connection lost; reconnecting  err="…"` otherwise (an
 * error's stack on the lines below). Anything that is not a JSON object passes through.
 */
export function formatLogLine(line: string, options: { colours?: boolean } = {}): string {
  let entry: Entry;
  try {
    entry = JSON.parse(line) as Entry;
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null) {
    return line;
  }
  const paint = (code: string, text: string) => (options.colours ? `\u001b[${code}m${text}\u001b[0m` : text);
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '--:--:--';
  const level = entry.level ?? 30;
  const parts = [paint('90', time), paint(LEVEL_COLOURS[level] ?? '0', (LEVELS[level] ?? String(level)).padEnd(5))];
  if ((entry.msg === 'request completed' || entry.msg === 'request errored') && entry.req !== undefined) {
    const status = entry.res?.statusCode ?? 0;
    parts.push(`${entry.req.method ?? ''} ${entry.req.url ?? ''}`, paint(status >= 500 ? '31' : status >= 400 ? '33' : '32', String(status)));
    parts.push(`${Math.round(entry.responseTime ?? 0)} ms`);
  } else {
    parts.push(entry.msg ?? '');
  }
  const extras = Object.entries(entry)
    .filter(([key]) => !SHOWN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (entry.err?.message !== undefined) {
    extras.unshift(`err=${JSON.stringify(entry.err.message)}`);
  }
  if (extras.length > 0) {
    parts.push(extras.join(' '));
  }
  if (entry.requestId !== undefined) {
    parts.push(paint('90', entry.requestId));
  }
  const stack = level >= 50 && entry.err?.stack ? `\n${entry.err.stack.replace(/^/gm, '    ')}` : '';
  return `${parts.join('  ')}${stack}`;
}

/** A pino destination that writes each line through formatLogLine to `out` (a terminal). */
export function compactLogDestination(out: { write(text: string): unknown }, options: { colours?: boolean } = {}): { write(line: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line !== '') {
          out.write(`${formatLogLine(line, options)}\n`);
        }
      }
    },
  };
}
