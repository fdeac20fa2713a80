import { AjvCompiler, type Ajv, type ErrorObject } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';
import { inputIssues } from '../shared/input.js';

/**
 * Request validation: two Ajv instances, chosen per part of the request.
 *
 * - JSON bodies are validated strictly, with no type coercion: `{"amount": true}`,
 *   `"1000"` and `[1000]` are not an amount, `null` and `0` are not booleans, `""` is
 *   not a null e-mail. A client that sends the wrong type is told so (400 naming the
 *   field), never silently reinterpreted.
 * - Querystrings, path parameters and headers arrive as text, so they keep Ajv's
 *   coercion (`?limit=50` is the integer 50).
 *
 * Around both, one guard for what no schema keyword expresses: every string (and object
 * key) must be storable text — no NUL byte, no lone UTF-16 surrogate — and every number
 * finite (`?minAmount=1e400` coerces to Infinity, which Ajv's `type: integer` lets
 * through after coercion). The guard's findings are ordinary validation errors with a
 * JSON pointer, so the error handler names the field like any other (400
 * VALIDATION_FAILED, `errors[].field`, `errors[].in`).
 *
 * Two keywords are added to both instances:
 * - `x-normalise: "email"` trims and lower-cases a string before the other keywords see
 *   it (Bursar treats e-mail addresses case-insensitively; see src/shared/email.ts);
 * - ajv-formats' `formatMinimum`/`formatMaximum` (date windows, see SANE_DATES in
 *   billing.schemas.ts), with `date-time` compared as instants.
 */
const SHARED_OPTIONS = {
  // Every problem at once, each naming its field.
  allErrors: true,
  // Unknown body fields are rejected (400 naming them), never silently dropped.
  removeAdditional: false,
  useDefaults: true,
} as const;

type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

interface RouteSchemaDefinition {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
}

interface ValidateFunction {
  (data: unknown, context?: { parentData: object; parentDataProperty: string }): boolean;
  errors?: ErrorObject[] | null;
  /** Ajv's marker; when present Fastify passes the parent context so a root value can be coerced. */
  schemaEnv?: unknown;
}

type CompileFromPool = (route: RouteSchemaDefinition) => ValidateFunction;

/** `date-time` compared as instants; ajv-formats' own compare skips the epoch (a falsy 0). */
function compareInstants(a: string, b: string): number | undefined {
  const left = Date.parse(a);
  const right = Date.parse(b);
  return Number.isNaN(left) || Number.isNaN(right) ? undefined : left - right;
}

/** Adds Bursar's keywords to an Ajv instance (both instances get the same ones). */
function extendAjv(ajv: Ajv): void {
  ajv.addKeyword({
    keyword: 'x-normalise',
    type: 'string',
    schemaType: 'string',
    modifying: true,
    // Before the length, pattern and format checks, so they see the normalised value.
    before: 'maxLength',
    metaSchema: { enum: ['email'] },
    validate(_kind: string, data: string, _schema: unknown, context?: { parentData: Record<string | number, unknown>; parentDataProperty: string | number }) {
      if (context?.parentData !== undefined) {
        context.parentData[context.parentDataProperty] = data.trim().toLowerCase();
      }
      return true;
    },
  });
  const dateTime = ajv.formats['date-time'];
  if (dateTime && typeof dateTime === 'object' && !(dateTime instanceof RegExp) && 'validate' in dateTime) {
    ajv.addFormat('date-time', { ...dateTime, compare: compareInstants } as Parameters<Ajv['addFormat']>[1]);
  }
}

/** A validator that also applies the storable-text and finite-number guard to its data. */
function guarded(validate: ValidateFunction): ValidateFunction {
  const check: ValidateFunction = (data, context) => {
    // Ajv first: it coerces querystring values (so `1e400` has become Infinity) and
    // fills defaults; the guard then sees the values the handler would.
    const valid = validate(data, context);
    const issues = inputIssues(data, { finiteNumbers: true });
    if (valid && issues.length === 0) {
      check.errors = null;
      return true;
    }
    const guardErrors: ErrorObject[] = issues.map((issue) => ({
      keyword: issue.keyword,
      instancePath: issue.instancePath,
      schemaPath: '#',
      params: {},
      message: issue.message,
    }));
    check.errors = [...guardErrors, ...(valid ? [] : (validate.errors ?? []))];
    return false;
  };
  check.schemaEnv = validate.schemaEnv;
  return check;
}

type BuildValidator = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>;

/**
 * Fastify's `schemaController.compilersFactory.buildValidator`: called with the shared
 * schemas of an encapsulation context, returns the per-route compiler. The pools cache
 * one Ajv instance per set of shared schemas, as Fastify's default does.
 */
export function createValidatorFactory(): BuildValidator {
  const strictPool = AjvCompiler();
  const lenientPool = AjvCompiler();
  const buildValidator = (externalSchemas: Record<string, unknown>) => {
    const plugins = { onCreate: extendAjv };
    // @fastify/ajv-compiler's typings describe the compiler as Ajv's compile(schema);
    // at run time it takes Fastify's route definition, as Fastify calls it.
    const strict = strictPool(externalSchemas as never, { ...plugins, customOptions: { ...SHARED_OPTIONS, coerceTypes: false } }) as unknown as CompileFromPool;
    const lenient = lenientPool(externalSchemas as never, { ...plugins, customOptions: { ...SHARED_OPTIONS, coerceTypes: 'array' } }) as unknown as CompileFromPool;
    return (route: RouteSchemaDefinition) => guarded((route.httpPart as HttpPart | undefined) === 'body' ? strict(route) : lenient(route));
  };
  return buildValidator as unknown as BuildValidator;
}
