import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from 'typebox';
import { AppError, ERROR_STATUS, type ErrorCode, type FieldError } from '../shared/errors.js';
import { isStorableText, printableKey } from '../shared/input.js';

/**
 * RFC 9457 problem details for every error: one handler turns AppErrors, framework
 * errors (validation, body parsing, rate limits) and PostgreSQL errors into
 * `application/problem+json`. Bad input is always a 4xx naming the field; a 5xx never
 * reveals internals, only the request id to quote.
 */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI reference identifying the problem type' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'stable machine-readable error code' }),
    requestId: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String(),
          in: Type.Optional(Type.String()),
          message: Type.String(),
        }),
      ),
    ),
  },
  { $id: 'Problem', title: 'Problem' },
);
export type Problem = Static<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** OpenAPI response entries for the given error statuses, for route schemas. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: STATUS_CODES[status] ?? 'Error',
        content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
      },
    ]),
  );
}

interface Mapped {
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

/** Seconds a client should wait before retrying a 503 (a database restart takes about that). */
export const RETRY_AFTER_SECONDS = 2;

export default fp(
  (app: FastifyInstance) => {
    app.addSchema(Problem);

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const mapped = mapError(error, request);
      const status = ERROR_STATUS[mapped.code];
      if (status >= 500) {
        request.log.error({ err: error }, 'request failed');
      } else {
        request.log.info({ code: mapped.code, detail: mapped.detail }, 'request rejected');
      }
      return sendProblem(request, reply, mapped);
    });

    // A path segment longer than any id would have been a 414 had no wildcard route (the
    // dashboard's `/*`) taken it: answer 414 here too, whatever the method.
    const maxParamLength = app.initialConfig.maxParamLength ?? 100;
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '';
      if (path.split('/').some((segment) => segment.length > maxParamLength)) {
        return sendProblem(request, reply, {
          code: 'URI_TOO_LONG',
          detail: 'a path parameter is longer than any id of this API',
          errors: [{ field: 'path', in: 'path', message: 'a path parameter is too long' }],
        });
      }
      return sendProblem(request, reply, { code: 'NOT_FOUND', detail: `no route ${request.method} ${path}` });
    });

    // While the server drains on shutdown, a request that still arrives on a kept-alive
    // connection is told to go elsewhere in the same problem shape (Fastify's own 503 for
    // this is plain JSON; it is switched off in app.ts with return503OnClosing: false).
    let closing = false;
    app.addHook('preClose', () => {
      closing = true;
    });
    // Callback style: on every request's path, so no promise when there is nothing to do.
    app.addHook('onRequest', (request, reply, done) => {
      if (!closing) {
        done();
        return;
      }
      reply.header('connection', 'close');
      void sendProblem(request, reply, { code: 'SERVICE_UNAVAILABLE', detail: 'the server is shutting down; retry the request' });
    });
  },
  { name: 'bursar-errors', fastify: '5.x' },
);

/**
 * Fastify's `frameworkErrors`: errors raised while routing, before any hook or handler
 * runs — a path with malformed percent-encoding or invalid UTF-8 (FST_ERR_BAD_URL), a
 * path parameter longer than `maxParamLength` (FST_ERR_MAX_PARAM_LENGTH). Without it they
 * are answered in Fastify's own JSON shape.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(request, reply, mappedFrameworkError(error, request));
}

function mappedFrameworkError(error: FastifyError, request: FastifyRequest): Mapped {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return {
        code: 'BAD_REQUEST',
        detail: 'the URL path is not valid: a percent-encoded segment is malformed or not UTF-8',
        errors: [{ field: 'path', in: 'path', message: 'has malformed percent-encoding or invalid UTF-8' }],
      };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        code: 'URI_TOO_LONG',
        detail: 'a path parameter is longer than any id of this API',
        errors: [{ field: 'path', in: 'path', message: 'a path parameter is too long' }],
      };
    default:
      return mapError(error, request);
  }
}

/**
 * The HTTP server's `clientError`: requests Node's HTTP parser refuses before Fastify
 * sees them — request line and headers over `maxHeaderSize` (a 100 KB query string),
 * a header timeout, malformed HTTP. There is no request object, so the problem is
 * written to the socket as raw HTTP/1.1 and the connection closed.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Duplex) {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const mapped: Mapped =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? { code: 'HEADERS_TOO_LARGE', detail: 'the request line and headers are too large (a query string counts); send less, or a body' }
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? { code: 'REQUEST_TIMEOUT', detail: 'the request was not received in time' }
        : { code: 'BAD_REQUEST', detail: 'the request is not valid HTTP' };
  const status = ERROR_STATUS[mapped.code];
  const requestId = randomUUID();
  this.log.debug({ err: error, requestId }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(problemBody(mapped, requestId));
    socket.write(
      [
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
        `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Request-Id: ${requestId}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  }
  socket.destroy();
}

function problemBody(mapped: Mapped, requestId: string, instance?: string): Problem {
  const status = ERROR_STATUS[mapped.code];
  return {
    type: `/problems/${mapped.code.toLowerCase().replaceAll('_', '-')}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: mapped.detail,
    code: mapped.code,
    requestId,
    ...(instance === undefined ? {} : { instance }),
    ...(mapped.errors?.length ? { errors: mapped.errors } : {}),
  };
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, mapped: Mapped) {
  const status = ERROR_STATUS[mapped.code];
  const body = problemBody(mapped, request.id, request.url.split('?')[0]);
  if (mapped.headers) {
    reply.headers(mapped.headers);
  }
  if (mapped.code === 'SERVICE_UNAVAILABLE' && !reply.hasHeader('retry-after')) {
    reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  }
  // Routing errors (frameworkErrorHandler) answer before the request-id hook runs.
  reply.header('x-request-id', request.id);
  return reply.status(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

function mapError(error: FastifyError, request: FastifyRequest): Mapped {
  if (error instanceof AppError) {
    return { code: error.code, detail: error.message, errors: error.extra.errors, headers: error.extra.headers };
  }
  if (typeof error !== 'object' || error === null) {
    return { code: 'INTERNAL', detail: 'an unexpected error occurred; quote the request id when reporting it' };
  }
  if (error.validation) {
    return mapValidation(error);
  }
  // Before the PostgreSQL mapping: "the database system is shutting down" (57P01) is a
  // PostgreSQL error too, and it means "retry", not "bug".
  if (isConnectionError(error)) {
    return { code: 'SERVICE_UNAVAILABLE', detail: 'the database is not reachable; try again shortly' };
  }
  if (isPgError(error)) {
    return mapPgError(error, request);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { code: codeForStatus(status), detail: error.message };
  }
  if (status === 503) {
    return { code: 'SERVICE_UNAVAILABLE', detail: 'the service is unavailable; try again shortly' };
  }
  return { code: 'INTERNAL', detail: 'an unexpected error occurred; quote the request id when reporting it' };
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 406:
      return 'NOT_ACCEPTABLE';
    case 408:
      return 'REQUEST_TIMEOUT';
    case 409:
      return 'CONFLICT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 414:
      return 'URI_TOO_LONG';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 422:
      return 'BUSINESS_RULE_VIOLATION';
    case 429:
      return 'RATE_LIMITED';
    case 431:
      return 'HEADERS_TOO_LARGE';
    default:
      return 'BAD_REQUEST';
  }
}

/** Messages of Bursar's own keywords and of the ajv-formats date windows, in the API's words. */
function validationMessage(issue: { keyword: string; message?: string; params: unknown }): string {
  const params = issue.params as { limit?: unknown; format?: unknown };
  switch (issue.keyword) {
    case 'additionalProperties':
      return 'is not a known field';
    case 'required':
      return 'is required';
    case 'formatMinimum':
    case 'formatExclusiveMinimum':
      return `must not be before ${String(params.limit)}`;
    case 'formatMaximum':
    case 'formatExclusiveMaximum':
      return `must not be after ${String(params.limit)}`;
    default:
      return issue.message ?? 'is invalid';
  }
}

/** Ajv errors → one entry per offending field, with a dotted path. */
function mapValidation(error: FastifyError): Mapped {
  const location = error.validationContext ?? 'body';
  const errors: FieldError[] = [];
  const allowed = new Map<string, unknown[]>();
  for (const issue of error.validation ?? []) {
    const path = issue.instancePath
      .split('/')
      .filter(Boolean)
      .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
    const params = issue.params as { missingProperty?: string; additionalProperty?: string; allowedValue?: unknown };
    const extra = params.missingProperty ?? params.additionalProperty;
    if (extra) {
      path.push(extra);
    }
    // A field name may itself carry a NUL or a lone surrogate: show it escaped.
    const field = printableKey(path.join('.')) || location;
    if (issue.keyword === 'const') {
      // A union of literals fails once per literal: gather them into one message.
      allowed.set(field, [...(allowed.get(field) ?? []), params.allowedValue]);
      continue;
    }
    const message = validationMessage(issue);
    if (!errors.some((e) => e.field === field) && !(issue.keyword === 'anyOf' && allowed.has(field))) {
      errors.push({ field, in: location, message });
    }
  }
  for (const [field, values] of allowed) {
    const message = `must be one of: ${values.map((v) => String(v)).join(', ')}`;
    const existing = errors.find((e) => e.field === field);
    if (existing) {
      existing.message = message;
    } else {
      errors.push({ field, in: location, message });
    }
  }
  const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ') || error.message;
  return { code: 'VALIDATION_FAILED', detail: `invalid ${location}: ${detail}`, errors };
}

interface PgError extends Error {
  code: string;
  detail?: string;
  constraint?: string;
  column?: string;
  table?: string;
  severity?: string;
}

function isPgError(error: unknown): boolean {
  const candidate = error as Partial<PgError>;
  return typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code) && typeof candidate.severity === 'string';
}

/** Node socket errors of a connection to PostgreSQL that is gone or cannot be made. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * PostgreSQL states that mean "the server is going away or not taking connections":
 * admin shutdown (57P01, a terminated backend or `pg_ctl stop`), crash shutdown (57P02),
 * cannot connect now (57P03, starting up or shutting down), too many connections
 * (53300), and every connection exception (class 08).
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * What node-postgres and pg-pool throw, without a code, when a connection dies under a
 * query or cannot be made in time ("Connection terminated unexpectedly", …).
 */
const CONNECTION_MESSAGES = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection terminated due to connection timeout)/;

/** The database is unreachable or restarting: a 503 the client may retry, not a 500. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (SOCKET_ERRORS.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) {
    return true;
  }
  return typeof message === 'string' && CONNECTION_MESSAGES.test(message);
}

const camel = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** Columns named in a constraint error's detail: `Key (school_id, number)=(…)` → [schoolId, number]. Values are never echoed (they may be PII). */
function keyColumns(error: PgError): string[] {
  const match = /Key \((.+?)\)=/.exec(error.detail ?? '');
  return (match?.[1] ?? '')
    .split(',')
    .map((column) => column.trim().replace(/^lower\((.+)\)$/, '$1'))
    .filter(Boolean)
    .map(camel);
}

/** The field a CHECK constraint guards, from PostgreSQL's default `<table>_<column>_check` name. */
function checkedField(error: PgError): string {
  const name = error.constraint ?? '';
  const table = error.table ?? '';
  const stripped = name.startsWith(`${table}_`) ? name.slice(table.length + 1) : name;
  // `<table>_<column>_check`, or `<table>_<column>_check_<what>` for a column's further checks.
  return camel(stripped.replace(/_check(_[a-z0-9]+)?$/, ''));
}

function mapPgError(error: PgError, request: FastifyRequest): Mapped {
  switch (error.code) {
    case '23505': {
      const fields = keyColumns(error).filter((field) => field !== 'schoolId');
      const field = fields.join(', ') || 'value';
      return {
        code: 'ALREADY_EXISTS',
        detail: `${field} is already taken`,
        errors: [{ field, message: 'is already taken' }],
      };
    }
    case '23503': {
      if (/is still referenced/.test(error.detail ?? '')) {
        return { code: 'CONFLICT', detail: 'the record is still referenced by other records' };
      }
      const field = keyColumns(error).filter((f) => f !== 'schoolId').join(', ') || 'reference';
      return {
        code: 'REFERENCE_NOT_FOUND',
        detail: `${field} does not refer to an existing record`,
        errors: [{ field, message: 'does not exist' }],
      };
    }
    case '23514': {
      const field = checkedField(error);
      return { code: 'BUSINESS_RULE_VIOLATION', detail: `${field} breaks the rule ${error.constraint ?? ''}`, errors: [{ field, message: 'is not allowed' }] };
    }
    case '23502': {
      const field = camel(error.column ?? 'value');
      return { code: 'VALIDATION_FAILED', detail: `${field} is required`, errors: [{ field, message: 'is required' }] };
    }
    case '22021':
    case '22P05': {
      // A byte sequence PostgreSQL cannot store (a NUL, a lone surrogate) that got past
      // the edge's guard, e.g. from a value the guard does not see.
      const found = findInput(request, (value) => typeof value === 'string' && !isStorableText(value));
      const message = 'must not contain a NUL character or invalid Unicode';
      return {
        code: 'VALIDATION_FAILED',
        detail: found ? `${found.field} ${message}` : `a value ${message}`,
        errors: found ? [{ ...found, message }] : [],
      };
    }
    case '22P02':
    case '22001':
    case '22003':
    case '22007':
    case '22008':
    case '22023': {
      // Schemas should stop these before SQL; when one slips through, name the field
      // whose value PostgreSQL quotes in its message (`… type uuid: "abc"`), if any.
      // A cursor is the one input whose parts reach SQL undecoded by any schema: when no
      // field holds the quoted value and the request has one, it is the cursor.
      const quoted = /"((?:[^"\\]|\\.)*)"/.exec(error.message)?.[1];
      const found = (quoted === undefined ? undefined : findInput(request, (value) => String(value) === quoted)) ?? cursorOf(request);
      const message = 'is malformed or out of range';
      return {
        code: 'VALIDATION_FAILED',
        detail: found ? `${found.field} ${message}` : `a value ${message}`,
        errors: found ? [{ ...found, message }] : [],
      };
    }
    case '55000':
      return { code: 'IMMUTABLE_RECORD', detail: 'this record is immutable; record a correcting movement instead' };
    case '40001':
    case '40P01':
      return { code: 'CONFLICT', detail: 'a concurrent change conflicted with this request; retry it' };
    case '57014':
      return { code: 'SERVICE_UNAVAILABLE', detail: 'the query took too long and was cancelled' };
    default:
      return { code: 'INTERNAL', detail: 'an unexpected error occurred; quote the request id when reporting it' };
  }
}

/**
 * The first input value (body, querystring, path) that `matches`, as a field path and
 * where it was; used to name the field of a database error the schemas did not catch.
 */
function findInput(request: FastifyRequest, matches: (value: unknown) => boolean): { field: string; in: string } | undefined {
  const parts: [string, unknown][] = [
    ['body', request.body],
    ['querystring', request.query],
    ['params', request.params],
  ];
  for (const [location, root] of parts) {
    const stack: { value: unknown; path: string[] }[] = [{ value: root, path: [] }];
    let visited = 0;
    while (stack.length > 0 && visited++ < 10_000) {
      const { value, path } = stack.pop() as { value: unknown; path: string[] };
      if (value !== null && typeof value === 'object') {
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          stack.push({ value: item, path: [...path, key] });
        }
      } else if (path.length > 0 && matches(value)) {
        return { field: printableKey(path.join('.')), in: location };
      }
    }
  }
  return undefined;
}

function cursorOf(request: FastifyRequest): { field: string; in: string } | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.cursor === 'string' ? { field: 'cursor', in: 'querystring' } : undefined;
}
