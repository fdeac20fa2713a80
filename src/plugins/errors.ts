import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from 'typebox';
import { AppError, ERROR_STATUS, type ErrorCode, type FieldError } from '../shared/errors.js';

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

export default fp(
  (app: FastifyInstance) => {
    app.addSchema(Problem);

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const mapped = mapError(error);
      const status = ERROR_STATUS[mapped.code];
      if (status >= 500) {
        request.log.error({ err: error }, 'request failed');
      } else {
        request.log.info({ code: mapped.code, detail: mapped.detail }, 'request rejected');
      }
      return sendProblem(request, reply, mapped);
    });

    app.setNotFoundHandler((request, reply) =>
      sendProblem(request, reply, { code: 'NOT_FOUND', detail: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }),
    );
  },
  { name: 'bursar-errors', fastify: '5.x' },
);

function sendProblem(request: FastifyRequest, reply: FastifyReply, mapped: Mapped) {
  const status = ERROR_STATUS[mapped.code];
  const body: Problem = {
    type: `/problems/${mapped.code.toLowerCase().replaceAll('_', '-')}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: mapped.detail,
    code: mapped.code,
    requestId: request.id,
    instance: request.url.split('?')[0],
    ...(mapped.errors?.length ? { errors: mapped.errors } : {}),
  };
  if (mapped.headers) {
    reply.headers(mapped.headers);
  }
  return reply.status(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

function mapError(error: FastifyError): Mapped {
  if (error instanceof AppError) {
    return { code: error.code, detail: error.message, errors: error.extra.errors, headers: error.extra.headers };
  }
  if (error.validation) {
    return mapValidation(error);
  }
  if (isPgError(error)) {
    return mapPgError(error);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { code: codeForStatus(status), detail: error.message };
  }
  if (isConnectionError(error)) {
    return { code: 'SERVICE_UNAVAILABLE', detail: 'the database is not reachable; try again shortly' };
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
    case 409:
      return 'CONFLICT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 422:
      return 'BUSINESS_RULE_VIOLATION';
    case 429:
      return 'RATE_LIMITED';
    default:
      return 'BAD_REQUEST';
  }
}

/** Ajv errors → one entry per offending field, with a dotted path. */
function mapValidation(error: FastifyError): Mapped {
  const location = error.validationContext ?? 'body';
  const errors: FieldError[] = [];
  const allowed = new Map<string, unknown[]>();
  for (const issue of error.validation ?? []) {
    const path = issue.instancePath.split('/').filter(Boolean);
    const params = issue.params as { missingProperty?: string; additionalProperty?: string; allowedValue?: unknown };
    const extra = params.missingProperty ?? params.additionalProperty;
    if (extra) {
      path.push(extra);
    }
    const field = path.join('.') || location;
    if (issue.keyword === 'const') {
      // A union of literals fails once per literal: gather them into one message.
      allowed.set(field, [...(allowed.get(field) ?? []), params.allowedValue]);
      continue;
    }
    const message =
      issue.keyword === 'additionalProperties' ? 'is not a known field' : issue.keyword === 'required' ? 'is required' : (issue.message ?? 'is invalid');
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

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03'].includes(code);
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
  return camel(stripped.replace(/_check$/, ''));
}

function mapPgError(error: PgError): Mapped {
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
    case '22P02':
    case '22001':
    case '22003':
    case '22007':
    case '22008':
    case '22023':
      return { code: 'VALIDATION_FAILED', detail: 'a value is malformed or out of range' };
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
