import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, insertUser, login, PASSWORD, type TestApp } from '../helpers/app.js';

/**
 * Every operation of the app's own OpenAPI document, walked with a corpus of bad values
 * in every body field, query parameter and path parameter (SPEC §3: "invalid input →
 * 400/422 naming the field, never 500"). Operations are discovered from the document,
 * so a new route is fuzzed the day it is added.
 *
 * For each operation a valid baseline request is built from its schemas (ids of real
 * rows for path parameters and id fields, so the walk gets past 404), then one value at
 * a time is replaced. Every answer must be:
 * - below 500;
 * - if 4xx, application/problem+json with a `code` and the status it was sent with;
 * - if 400 and the baseline passed validation, naming the field that was changed (in
 *   `errors[].field` or the detail);
 * - a 4xx whenever the value can never be valid (a NUL byte, a lone surrogate, a wrong
 *   JSON type, a non-finite number, a date outside the sane window…): no coercion, no
 *   silent acceptance.
 * Deterministic: a fixed corpus in a fixed order, no randomness in what is sent.
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  items?: Schema;
  minItems?: number;
  examples?: unknown[];
  default?: unknown;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: Schema;
}

interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: Schema;
  security: boolean;
}

interface OpenApi {
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> }; security?: unknown[] }>>;
  components?: { schemas?: Record<string, Schema> };
}

/** A JSON body value that JSON.stringify cannot write (spliced into the raw text). */
const RAW = Symbol('raw JSON');
interface RawJson {
  [RAW]: string;
}
const raw = (text: string): RawJson => ({ [RAW]: text });
const isRaw = (value: unknown): value is RawJson => typeof value === 'object' && value !== null && RAW in value;

/** Why a value can never be valid for a field, or null when it might be. */
type Verdict = 'always' | 'type' | 'date' | null;

interface BodyCase {
  label: string;
  value: unknown;
  /** 'always': refused whatever the field; 'type': refused unless the field's type allows the JSON type; 'date': refused by date fields. */
  reject: Verdict;
}

const LONG = 'x'.repeat(10_000);
const BODY_CORPUS: BodyCase[] = [
  { label: 'NUL byte', value: 'a\u0000b', reject: 'always' },
  { label: 'lone high surrogate', value: '\ud800', reject: 'always' },
  { label: 'lone low surrogate', value: 'x\udfffy', reject: 'always' },
  { label: 'NUL inside an array', value: ['a\u0000'], reject: 'always' },
  { label: '10 000 characters', value: LONG, reject: null },
  { label: 'empty string', value: '', reject: null },
  { label: 'blank string', value: '   ', reject: null },
  { label: 'true', value: true, reject: 'type' },
  { label: 'null', value: null, reject: 'type' },
  { label: 'empty array', value: [], reject: 'type' },
  { label: 'array of a number', value: [1000], reject: 'type' },
  { label: 'object', value: { value: 1000 }, reject: 'type' },
  { label: 'numeric string', value: '1000', reject: 'type' },
  { label: 'integer 1', value: 1, reject: 'type' },
  { label: 'zero', value: 0, reject: 'type' },
  { label: 'minus one', value: -1, reject: 'type' },
  { label: 'fraction', value: 1.5, reject: 'type' },
  { label: 'huge', value: 1e300, reject: 'type' },
  { label: '1e400 (Infinity)', value: raw('1e400'), reject: 'always' },
  { label: '-1e400 (-Infinity)', value: raw('-1e400'), reject: 'always' },
  { label: 'string Infinity', value: 'Infinity', reject: 'type' },
  { label: 'year 0000 date', value: '0000-01-01', reject: 'date' },
  { label: 'year 0001 timestamp', value: '0001-01-01T00:00:00Z', reject: 'date' },
  { label: 'month 13', value: '2026-13-45', reject: 'date' },
  { label: '30 February', value: '2026-02-30', reject: 'date' },
  { label: 'year 1999', value: '1999-12-31', reject: 'date' },
  { label: 'year 9999 timestamp', value: '9999-12-31T23:59:59Z', reject: 'date' },
  { label: 'SQL', value: "' or 1=1 --", reject: null },
  { label: 'emoji and RTL', value: '😀 \u202e مرحبا', reject: null },
];

interface QueryCase {
  label: string;
  /** Already percent-encoded. */
  encoded: string;
  /** Refused by every parameter, by numeric parameters, or by date parameters. */
  reject: 'always' | 'number' | 'integer' | 'date' | null;
}

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const QUERY_CORPUS: QueryCase[] = [
  { label: 'NUL byte', encoded: 'a%00b', reject: 'always' },
  { label: 'lone surrogate (CESU-8)', encoded: '%ED%A0%80', reject: null },
  { label: 'bad percent-encoding', encoded: '%E0%A4%A', reject: null },
  { label: 'Infinity', encoded: 'Infinity', reject: 'number' },
  { label: '-Infinity', encoded: '-Infinity', reject: 'number' },
  { label: '1e400', encoded: '1e400', reject: 'number' },
  { label: 'NaN', encoded: 'NaN', reject: 'number' },
  { label: 'minus one', encoded: '-1', reject: null },
  { label: 'fraction', encoded: '1.5', reject: 'integer' },
  { label: 'zero', encoded: '0', reject: null },
  { label: 'huge', encoded: '99999999999999999999999', reject: 'integer' },
  { label: 'empty', encoded: '', reject: null },
  { label: 'word', encoded: 'abc', reject: 'number' },
  { label: 'true', encoded: 'true', reject: 'number' },
  { label: '2 000 characters', encoded: 'x'.repeat(2_000), reject: null },
  { label: 'year 0000', encoded: '0000-01-01', reject: 'date' },
  { label: 'year 0001 timestamp', encoded: '0001-01-01T00%3A00%3A00Z', reject: 'date' },
  { label: 'month 13', encoded: '2026-13-45', reject: 'date' },
  { label: '30 February', encoded: '2026-02-30', reject: 'date' },
  { label: 'cursor: not base64 JSON', encoded: 'garbage', reject: null },
  { label: 'cursor: NUL inside', encoded: b64('["\u0000"]'), reject: null },
  { label: 'cursor: wrong shape', encoded: b64('{"a":1}'), reject: null },
  { label: 'cursor: non-finite', encoded: b64('[1e400,1e400,1e400,1e400]'), reject: null },
  { label: 'cursor: year 0000', encoded: b64('["0000-01-01T00:00:00.000000Z","00000000-0000-0000-0000-000000000000"]'), reject: null },
  { label: 'cursor: bad date', encoded: b64('["2026-02-30","00000000-0000-0000-0000-000000000000",1,"x"]'), reject: null },
  { label: 'cursor: not a uuid', encoded: b64('["not-a-uuid"]'), reject: null },
];

const PATH_CORPUS: { label: string; encoded: string }[] = [
  { label: 'NUL byte', encoded: 'a%00b' },
  { label: 'not a uuid', encoded: 'not-a-uuid' },
  { label: 'lone surrogate (CESU-8)', encoded: '%ED%A0%80' },
  { label: 'bad percent-encoding', encoded: '%E0%A4%A' },
  { label: '5 000 characters', encoded: 'x'.repeat(5_000) },
  { label: 'Infinity', encoded: 'Infinity' },
  { label: '1e400', encoded: '1e400' },
  { label: 'nil uuid', encoded: '00000000-0000-0000-0000-000000000000' },
  { label: 'encoded slash', encoded: '..%2F..%2Fetc' },
];

const today = new Date().toISOString().slice(0, 10);

interface Ids {
  school: string;
  student: string;
  invoice: string;
  payment: string;
  user: string;
  family: string;
  guardian: string;
}

describe('fuzz: every operation of the OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApi;
  let ids: Ids;
  let operations: Operation[];
  let sequence = 0;

  before(async () => {
    t = await createTestApp({ env: { LOGIN_MAX_FAILURES_PER_IP: '100000', LOGIN_MAX_FAILURES_PER_USER: '100000', ASSISTANT_RATE_LIMIT_PER_MINUTE: '10000' } });
    await insertUser(t.db, { username: 'fuzz.root', role: 'super_admin' });
    const user = await insertUser(t.db, { username: 'fuzz.target', role: 'developer' });
    const token = (await login(t.app, 'fuzz.root')).accessToken;
    const post = async (url: string, payload: object, headers: Record<string, string> = {}) => {
      const response = await t.app.inject({ method: 'POST', url: `/api/v1${url}`, payload, headers: { authorization: `Bearer ${token}`, ...headers } });
      assert.ok(response.statusCode < 300, `${url}: ${response.body}`);
      return response.json<{ id: string }>();
    };
    const school = await post('/schools', { name: 'Fuzz School', currency: 'MXN', timezone: 'America/Mexico_City' });
    const student = await post('/students', { schoolId: school.id, firstName: 'Fia', lastName: 'Fuzz', grade: '3' });
    const invoice = await post('/invoices', { studentId: student.id, amount: 100_000_000, dueDate: '2099-06-30' });
    // Paid generously so refunds of any amount the corpus sends have room.
    const payment = await post('/payments', { invoiceId: invoice.id, amount: 10_000_000, method: 'cash' }, { 'idempotency-key': randomUUID() });
    const family = (await post('/families', { schoolId: school.id, name: 'Fuzz', guardians: [{ firstName: 'Gia', lastName: 'Fuzz' }] })) as { id: string; guardians?: { id: string }[] };
    ids = { school: school.id, student: student.id, invoice: invoice.id, payment: payment.id, user, family: family.id, guardian: family.guardians?.[0]?.id ?? '' };
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApi>();
    operations = operationsOf(doc);
  });
  after(() => t.close());

  const deref = (schema: Schema): Schema => {
    if (schema.$ref) {
      const name = schema.$ref.split('/').pop() ?? '';
      return deref(doc.components?.schemas?.[name] ?? {});
    }
    return schema;
  };

  /** The id of a real row for a path parameter or id field, chosen by name and path. */
  const idFor = (name: string, path = ''): string => {
    const owner = name === 'id' ? (path.split('/{id}')[0]?.split('/').pop() ?? '') : name;
    if (/^schools?(Id)?$/.test(owner)) {
      return ids.school;
    }
    if (/^students?(Id)?$/.test(owner)) {
      return ids.student;
    }
    if (/^invoices?(Id)?$/.test(owner)) {
      return ids.invoice;
    }
    if (/^payments?(Id)?$/.test(owner)) {
      return ids.payment;
    }
    if (/^users?(Id)?$/.test(owner)) {
      return ids.user;
    }
    if (/^famil(y|ies)(Id)?$/.test(owner)) {
      return ids.family;
    }
    if (/^guardians?(Id)?$/.test(owner)) {
      return ids.guardian;
    }
    return '00000000-0000-7000-8000-000000000000';
  };

  /** Field values a generated schema value would get wrong (patterns, unique values). */
  const sampleByName = (name: string): unknown => {
    switch (name) {
      case 'currency':
        return 'MXN';
      case 'timezone':
        return 'America/Mexico_City';
      case 'username':
        return `fuzz.user.${++sequence}`;
      case 'password':
        return 'Correct-Horse-Battery-9';
      case 'number':
        return `FZ-${++sequence}`;
      case 'amount':
        return 1;
      default:
        return undefined;
    }
  };

  /** A valid value for a schema (required properties only for objects). */
  const sample = (input: Schema, name = '', path = ''): unknown => {
    const schema = deref(input);
    const byName = sampleByName(name);
    if (byName !== undefined) {
      return byName;
    }
    if (schema.examples?.length) {
      return schema.examples[0];
    }
    if ('const' in schema) {
      return schema.const;
    }
    if (schema.enum?.length) {
      return schema.enum[0];
    }
    if (schema.default !== undefined) {
      return schema.default;
    }
    const variants = schema.anyOf ?? schema.oneOf;
    if (variants) {
      const branch = variants.map(deref).find((v) => v.type !== 'null') ?? variants[0] ?? {};
      return sample(branch, name, path);
    }
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
    switch (type ?? '') {
      case 'string':
        switch (schema.format ?? '') {
          case 'uuid':
            return idFor(name, path);
          case 'date':
            return today;
          case 'date-time':
            return new Date(Date.now() - 60_000).toISOString();
          case 'email':
            return 'fuzz@example.com';
          default:
            return 'fuzz'.padEnd(schema.minLength ?? 1, 'z').slice(0, schema.maxLength ?? 50);
        }
      case 'integer':
      case 'number':
        return Math.min(Math.max(schema.minimum ?? 1, 1), schema.maximum ?? Number.MAX_SAFE_INTEGER);
      case 'boolean':
        return true;
      case 'array':
        return schema.minItems ? [sample(schema.items ?? {}, name, path)] : [];
      case 'object': {
        const value: Record<string, unknown> = {};
        for (const key of schema.required ?? []) {
          value[key] = sample(schema.properties?.[key] ?? {}, key, path);
        }
        return value;
      }
      default:
        return 'fuzz';
    }
  };

  /** The JSON types a schema accepts ('integer' also counts as 'number'). */
  const typesOf = (input: Schema): Set<string> => {
    const schema = deref(input);
    const variants = schema.anyOf ?? schema.oneOf;
    if (variants) {
      return new Set(variants.flatMap((v) => [...typesOf(v)]));
    }
    if ('const' in schema || schema.enum) {
      const values = 'const' in schema ? [schema.const] : (schema.enum ?? []);
      return new Set(values.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)));
    }
    const types = schema.type === undefined ? ['any'] : Array.isArray(schema.type) ? schema.type : [schema.type];
    return new Set(types.flatMap((t) => (t === 'integer' ? ['integer', 'number'] : [t])));
  };

  const jsonTypeOf = (value: unknown): string => {
    if (value === null) {
      return 'null';
    }
    if (Array.isArray(value)) {
      return 'array';
    }
    if (typeof value === 'number') {
      return Number.isInteger(value) ? 'integer' : 'number';
    }
    return typeof value;
  };

  const isDateField = (input: Schema): boolean => {
    const schema = deref(input);
    return ['date', 'date-time'].includes(schema.format ?? '') || (schema.anyOf ?? schema.oneOf ?? []).some(isDateField);
  };

  const mustReject = (verdict: Verdict, field: Schema, value: unknown): boolean => {
    switch (verdict) {
      case 'always':
        return true;
      case 'type': {
        const types = typesOf(field);
        if (types.has('any')) {
          return false;
        }
        const type = jsonTypeOf(value);
        return !(types.has(type) || (type === 'integer' && types.has('number')));
      }
      case 'date':
        return isDateField(field);
      case null:
        return false;
    }
  };

  function operationsOf(openapi: OpenApi): Operation[] {
    const found: Operation[] = [];
    for (const [path, methods] of Object.entries(openapi.paths)) {
      for (const [method, spec] of Object.entries(methods)) {
        const json = spec.requestBody?.content['application/json'];
        found.push({
          method: method.toUpperCase(),
          path,
          parameters: spec.parameters ?? [],
          ...(json ? { body: json.schema } : {}),
          security: (spec.security?.length ?? 0) > 0,
        });
      }
    }
    return found;
  }

  interface Request {
    op: Operation;
    token: string | null;
    path?: Record<string, string>;
    query?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  }

  const urlOf = (request: Request): string => {
    const path = request.op.path.replace(/\{([^}]+)\}/g, (_, name: string) => request.path?.[name] ?? encodeURIComponent(idFor(name, request.op.path)));
    return request.query ? `${path}?${request.query}` : path;
  };

  const serialise = (body: unknown): string =>
    JSON.stringify(body, (_key, value: unknown) => (isRaw(value) ? `@@RAW${Buffer.from(value[RAW]).toString('hex')}@@` : value)).replace(
      /"@@RAW([0-9a-f]+)@@"/g,
      (_, hex: string) => Buffer.from(hex, 'hex').toString(),
    );

  let sent = 0;
  const send = (request: Request): Promise<LightMyRequestResponse> => {
    sent++;
    const headers: Record<string, string> = { 'idempotency-key': randomUUID() };
    if (request.token) {
      headers.authorization = `Bearer ${request.token}`;
    }
    const payload = request.rawBody ?? (request.body === undefined ? undefined : serialise(request.body));
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, request.headers);
    return t.app.inject({ method: request.op.method as 'GET', url: urlOf(request), headers, ...(payload === undefined ? {} : { payload }) });
  };

  interface Failure {
    what: string;
    status: number;
    body: string;
  }

  /** The contract every answer keeps; returns what broke, if anything. */
  const check = (response: LightMyRequestResponse, expect: { field?: string; reject: boolean }): string | null => {
    const status = response.statusCode;
    if (status >= 500) {
      return 'a 5xx';
    }
    if (status < 400) {
      return expect.reject ? `accepted (${status}) a value that can never be valid` : null;
    }
    const type = String(response.headers['content-type']);
    if (!type.startsWith('application/problem+json')) {
      return `a ${status} that is not problem+json (${type})`;
    }
    let problem: { code?: unknown; status?: unknown; detail?: unknown; errors?: { field?: unknown }[] };
    try {
      problem = response.json();
    } catch {
      return 'a problem body that is not JSON';
    }
    if (typeof problem.code !== 'string' || problem.code === '') {
      return 'a problem without a code';
    }
    if (problem.status !== status) {
      return `a problem whose status ${String(problem.status)} is not the response's ${status}`;
    }
    if (status === 400 && expect.field !== undefined) {
      const field = expect.field;
      const named =
        (problem.errors ?? []).some((e) => typeof e.field === 'string' && (e.field === field || e.field.startsWith(`${field}.`) || e.field === 'path')) ||
        (typeof problem.detail === 'string' && problem.detail.includes(field));
      if (!named) {
        return `a 400 that does not name ${field}`;
      }
    }
    return null;
  };

  const freshToken = async () => (await login(t.app, 'fuzz.root', PASSWORD)).accessToken;

  /** Runs the whole walk of one operation for one caller; returns every failure. */
  async function walk(op: Operation, token: string | null): Promise<Failure[]> {
    const failures: Failure[] = [];
    const record = (what: string, response: LightMyRequestResponse, broke: string | null) => {
      if (broke) {
        failures.push({ what: `${op.method} ${op.path} ${what}: ${broke}`, status: response.statusCode, body: response.body.slice(0, 300) });
      }
    };
    const baselineBody = op.body ? sample(op.body, '', op.path) : undefined;
    // A DELETE's baseline would delete the row the rest of the walk needs.
    const baseline = op.method === 'DELETE' ? null : await send({ op, token, body: baselineBody });
    if (baseline) {
      record('baseline', baseline, check(baseline, { reject: false }));
    }
    // Only when the baseline passed validation can a 400 be blamed on the changed value.
    const validBaseline = baseline === null || baseline.statusCode !== 400;

    for (const parameter of op.parameters.filter((p) => p.in === 'path')) {
      const isUuid = deref(parameter.schema).format === 'uuid';
      for (const entry of PATH_CORPUS) {
        const response = await send({ op, token, path: { [parameter.name]: entry.encoded }, body: baselineBody });
        const reject = entry.label === 'NUL byte' || (isUuid && entry.label !== 'nil uuid');
        record(`path ${parameter.name}=${entry.label}`, response, check(response, { reject, ...(validBaseline ? { field: parameter.name } : {}) }));
      }
    }

    for (const parameter of op.parameters.filter((p) => p.in === 'query')) {
      const schema = deref(parameter.schema);
      const types = typesOf(schema);
      const numeric = types.has('number') && !types.has('string');
      // Cursor-shaped values only where a cursor goes; every other value everywhere.
      for (const entry of QUERY_CORPUS.filter((e) => !e.label.startsWith('cursor:') || parameter.name === 'cursor')) {
        const reject =
          entry.reject === 'always' ||
          (entry.reject === 'number' && numeric) ||
          (entry.reject === 'integer' && numeric && types.has('integer')) ||
          (entry.reject === 'date' && isDateField(schema));
        const response = await send({ op, token, query: `${encodeURIComponent(parameter.name)}=${entry.encoded}`, body: baselineBody });
        record(`query ${parameter.name}=${entry.label}`, response, check(response, { reject, ...(validBaseline ? { field: parameter.name } : {}) }));
      }
      // The same parameter twice.
      const twice = await send({ op, token, query: `${parameter.name}=1&${parameter.name}=2`, body: baselineBody });
      record(`query ${parameter.name} given twice`, twice, check(twice, { reject: false }));
    }

    for (const parameter of op.parameters.filter((p) => p.in === 'header')) {
      for (const [label, value] of [['1 000 characters', 'k'.repeat(1_000)], ['empty', '']] as const) {
        const response = await send({ op, token, headers: { [parameter.name]: value }, body: baselineBody });
        record(`header ${parameter.name}=${label}`, response, check(response, { reject: true, ...(validBaseline ? { field: parameter.name } : {}) }));
      }
    }

    if (op.body) {
      const schema = deref(op.body);
      const base = (baselineBody ?? {}) as Record<string, unknown>;
      for (const [name, field] of Object.entries(schema.properties ?? {})) {
        for (const entry of BODY_CORPUS) {
          const response = await send({ op, token, body: { ...base, [name]: entry.value } });
          const reject = mustReject(entry.reject, field, entry.value);
          record(`body ${name}=${entry.label}`, response, check(response, { reject, ...(validBaseline ? { field: name } : {}) }));
        }
      }
      if (schema.additionalProperties === false) {
        const unknown = await send({ op, token, body: { ...base, surprise: 1 } });
        record('body with an unknown field', unknown, check(unknown, { reject: true, ...(validBaseline ? { field: 'surprise' } : {}) }));
        const badKey = await send({ op, token, body: { ...base, ['a\u0000b']: 1 } });
        record('body with a NUL in a field name', badKey, check(badKey, { reject: true }));
      }
      // `null` and an empty body may stand for "no body" (routes whose fields are all optional accept that).
      const wholeBodies: { label: string; rawBody: string; reject: boolean }[] = [
        { label: 'an array', rawBody: '[]', reject: true },
        { label: 'a string', rawBody: '"body"', reject: true },
        { label: 'a number', rawBody: '1000', reject: true },
        { label: '1e400', rawBody: '1e400', reject: true },
        { label: 'invalid JSON', rawBody: '{"a":', reject: true },
        { label: 'a NUL in raw JSON', rawBody: '{"a":"\u0000"}', reject: true },
        { label: '10 000 levels deep', rawBody: `${'['.repeat(10_000)}${']'.repeat(10_000)}`, reject: true },
        { label: 'null', rawBody: 'null', reject: false },
        { label: 'empty', rawBody: '', reject: false },
      ];
      for (const entry of wholeBodies) {
        const response = await send({ op, token, rawBody: entry.rawBody });
        record(`whole body ${entry.label}`, response, check(response, { reject: entry.reject }));
      }
    }
    return failures;
  }

  test('every operation, as super_admin: never a 5xx, every 4xx problem+json naming the field', async (context) => {
    assert.ok(operations.length >= 60, `the document lists ${operations.length} operations`);
    const failures: Failure[] = [];
    const token = await freshToken();
    for (const op of operations) {
      // The session's own operations (logout with all: true) get a session of their own.
      failures.push(...(await walk(op, op.path.includes('/auth/') ? await freshToken() : token)));
    }
    assert.deepEqual(failures, [], `${failures.length} failures:\n${failures.map((f) => `${f.what} [${f.status}] ${f.body}`).join('\n')}`);
    context.diagnostic(`${sent} requests over ${operations.length} operations`);
  });

  test('every operation, anonymously: the same contract', async () => {
    const failures: Failure[] = [];
    for (const op of operations) {
      failures.push(...(await walk(op, null)));
    }
    assert.deepEqual(failures, [], `${failures.length} failures:\n${failures.map((f) => `${f.what} [${f.status}] ${f.body}`).join('\n')}`);
  });

  test('every baseline request passes validation, so each changed value is tested alone', async () => {
    const token = await freshToken();
    const invalid: string[] = [];
    // A webhook without its gateway's signature is a 400 by contract (SPEC §8; test/gateway covers it).
    for (const op of operations.filter((o) => o.method !== 'DELETE' && !o.path.includes('/gateway/webhooks/'))) {
      const response = await send({ op, token, body: op.body ? sample(op.body, '', op.path) : undefined });
      if (response.statusCode === 400) {
        invalid.push(`${op.method} ${op.path}: ${response.body.slice(0, 200)}`);
      }
    }
    assert.deepEqual(invalid, [], 'give the field an `examples` value in its schema, or teach sampleByName about it');
  });
});
