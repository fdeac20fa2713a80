import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Every environment variable Bursar reads, parsed and validated once at start-up.
 * Nothing else reads process.env. See env.example for the documented list.
 */
function oneOf<const T extends readonly string[]>(values: T, fallback: T[number]) {
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    { default: fallback, description: `one of: ${values.join(', ')}` },
  );
}

const EnvSchema = Type.Object({
  NODE_ENV: oneOf(['development', 'production', 'test'], 'development'),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  TRUST_PROXY: Type.Boolean({ default: false }),

  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  // A read replica for reports and exports (unset: the primary).
  DATABASE_READ_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  BURSAR_DATA_DIR: Type.String({ minLength: 1, default: './.data' }),
  EMBEDDED_PG_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 54329 }),

  SEED_DEMO: oneOf(['on', 'off'], 'on'),
  SEED_PASSWORD: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),

  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_ISSUER: Type.String({ minLength: 1, default: 'bursar' }),
  JWT_AUDIENCE: Type.String({ minLength: 1, default: 'bursar-api' }),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 30, maximum: 3600, default: 900 }),
  REFRESH_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 300, maximum: 90 * 86_400, default: 14 * 86_400 }),

  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 600 }),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  LOGIN_MAX_FAILURES_PER_USER: Type.Integer({ minimum: 1, default: 5 }),
  LOGIN_MAX_FAILURES_PER_IP: Type.Integer({ minimum: 1, default: 30 }),
  LOGIN_THROTTLE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 900 }),

  // auto: on for `npm start` (development), off under test and in production
  SIMULATOR: oneOf(['on', 'off', 'auto'], 'auto'),
  SIMULATOR_RATE: Type.Number({ minimum: 0.01, maximum: 1000, default: 2, description: 'checks per second (each makes at most one event), a number from 0.01 to 1000' }),

  // Gateway sync (src/modules/sync) and the vendor simulator (src/modules/vendor).
  // VENDOR_URL unset and VENDOR_SIMULATOR on: the app starts the simulator and syncs from it.
  VENDOR_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  VENDOR_API_KEY: Type.String({ minLength: 1, default: 'demo-key' }),
  VENDOR_SIMULATOR: oneOf(['on', 'off', 'auto'], 'auto'),
  VENDOR_SIMULATOR_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  VENDOR_SIMULATOR_RATE: Type.Number({ minimum: 0, maximum: 1000, default: 2, description: 'new feed entries per second, a number from 0 to 1000' }),
  SYNC: oneOf(['on', 'off', 'auto'], 'auto'),
  SYNC_INTERVAL_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  SYNC_REQUESTS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 10_000, default: 5 }),
  SYNC_PAGE_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 1000 }),
  SYNC_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 5 }),
  SYNC_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),

  // Scheduled maintenance on pg-boss (src/jobs): purging expired idempotency keys and old
  // webhook events (WEBHOOK_RETENTION_DAYS), once per interval across every worker. auto:
  // on for `npm start`, and in `bursar worker`.
  MAINTENANCE: oneOf(['on', 'off', 'auto'], 'auto'),
  MAINTENANCE_INTERVAL_SECONDS: Type.Integer({ minimum: 1, maximum: 43_200, default: 3600 }),

  // The daily collections run (src/modules/collections): late fees for every school with a
  // policy, once its local clock passes COLLECTIONS_FROM_HOUR. auto: on for `npm start`,
  // and in `bursar worker`.
  COLLECTIONS: oneOf(['on', 'off', 'auto'], 'auto'),
  COLLECTIONS_FROM_HOUR: Type.Integer({ minimum: 0, maximum: 23, default: 6, description: 'the school-local hour from which its day runs' }),

  // Where people open Bursar: pay links in reminders and invitations start with it.
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  // Reminder channels (src/modules/messages). A channel left unset sends nothing: its
  // messages land in the outbox (GET /outbox, the Outbox page) so none is lost.
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAIL_FROM: Type.String({ minLength: 3, maxLength: 254, default: 'Bursar <no-reply@bursar.local>' }),
  SMS_PROVIDER_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  SMS_PROVIDER_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  WHATSAPP_PROVIDER_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  WHATSAPP_PROVIDER_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  // The delivery worker (queued messages → their channel). auto: on for `npm start` and in `bursar worker`.
  MESSAGES: oneOf(['on', 'off', 'auto'], 'auto'),
  MESSAGE_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 30, default: 8, description: 'sending attempts before a message is marked failed' }),
  MESSAGE_RETRY_BASE_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 60, description: 'the first retry delay; it doubles with each attempt' }),

  // Outbound webhooks (src/modules/webhooks). WEBHOOKS runs the delivery worker (auto: on for
  // `npm start` and in `bursar worker`). WEBHOOKS_ALLOW_LOCAL=on lets endpoints use http on
  // loopback and hosts that resolve to private, loopback or link-local addresses
  // (development and tests only; off: https to public addresses only — SSRF).
  WEBHOOKS: oneOf(['on', 'off', 'auto'], 'auto'),
  WEBHOOKS_ALLOW_LOCAL: oneOf(['on', 'off'], 'off'),
  WEBHOOKS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 10_000, description: 'how long one delivery waits for an answer, 100 to 60000 ms' }),
  // The maintenance job purges events older than this whose deliveries are all finished,
  // with their deliveries and attempts (an event with a pending delivery stays).
  WEBHOOK_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 30, description: 'a whole number of days from 1 to 3650' }),

  // Online payment (src/modules/gateway). auto: Stripe Checkout when STRIPE_SECRET_KEY is
  // set, else the bundled gateway simulator (hosted test-card page) outside production; off
  // in production without Stripe (checkouts answer 503).
  GATEWAY: oneOf(['auto', 'simulator', 'stripe', 'off'], 'auto'),
  STRIPE_SECRET_KEY: Type.Optional(Type.String({ pattern: '^(sk|rk)_' })),
  STRIPE_WEBHOOK_SECRET: Type.Optional(Type.String({ pattern: '^whsec_' })),
  // Another host for the Stripe SDK (tests: a local server that speaks Stripe's API).
  STRIPE_API_BASE: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+/?$' })),
  // Where the simulator sends its webhooks; default: this server's own address.
  GATEWAY_SIMULATOR_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),

  // Bill runs (src/modules/billruns): a run of more invoices than this goes to a pg-boss job
  // (progress polled by GET /bill-runs/:id); smaller ones finish inside the request.
  BILL_RUN_INLINE_MAX: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 300 }),

  // Collection assistant (src/modules/assistant): an OpenAI-compatible endpoint when all
  // three LLM_* are set, the rule engine otherwise.
  LLM_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  LLM_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  LLM_MODEL: Type.Optional(Type.String({ minLength: 1 })),
  LLM_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000 }),
  ASSISTANT_RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),

  // OpenTelemetry tracing (src/telemetry.ts): off unless OTEL_TRACING=on.
  OTEL_TRACING: oneOf(['on', 'off'], 'off'),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OTEL_SERVICE_NAME: Type.String({ minLength: 1, default: 'bursar' }),
  // Share of new traces kept (parent-based: a request that arrives sampled stays sampled).
  OTEL_TRACES_SAMPLER_RATIO: Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'a number from 0 to 1' }),
});

const Schema = EnvSchema;
type Env = Static<typeof Schema>;

/** Never echoed back in an error message. */
const SECRETS = new Set([
  'DATABASE_URL', 'DATABASE_READ_URL', 'REDIS_URL', 'JWT_SECRET', 'SEED_PASSWORD', 'VENDOR_API_KEY', 'LLM_API_KEY',
  'SMTP_URL', 'SMS_PROVIDER_TOKEN', 'WHATSAPP_PROVIDER_TOKEN', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET',
]);

export const DEFAULT_SEED_PASSWORD = 'ChangeMe123!';

export interface Config {
  env: Env['NODE_ENV'];
  host: string;
  port: number;
  logLevel: string;
  trustProxy: boolean;
  database: {
    /** Unset: start the embedded PostgreSQL in dataDir. */
    url: string | undefined;
    /** A read replica for reports and exports; unset = the primary. */
    readUrl: string | undefined;
    poolMax: number;
  };
  /** Shared cache across instances; unset = in-process cache. */
  redisUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  seed: {
    demo: boolean;
    password: string;
    /** True when SEED_PASSWORD was not set and the published default is in use. */
    passwordIsDefault: boolean;
  };
  auth: {
    /** Unset: a per-data-dir secret is generated (see main.ts). */
    jwtSecret: string | undefined;
    issuer: string;
    audience: string;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    loginMaxFailuresPerUser: number;
    loginMaxFailuresPerIp: number;
    loginThrottleWindowSeconds: number;
  };
  rateLimit: { max: number; windowSeconds: number };
  /** Demo traffic through the billing service (src/modules/simulator). */
  simulator: { enabled: boolean; ratePerSecond: number };
  /** The gateway's account feed simulator (src/modules/vendor). */
  vendor: {
    /** Unset: the simulator's URL when it runs, else no sync source. */
    url: string | undefined;
    apiKey: string;
    simulator: { enabled: boolean; port: number; entriesPerSecond: number };
  };
  /** The gateway sync worker (src/modules/sync). */
  sync: {
    enabled: boolean;
    intervalSeconds: number;
    requestsPerMinute: number;
    pageSize: number;
    maxAttempts: number;
    timeoutMs: number;
  };
  /** Scheduled maintenance jobs (src/jobs). */
  maintenance: { enabled: boolean; intervalSeconds: number };
  /** The daily collections run (src/modules/collections). */
  collections: { enabled: boolean; fromHour: number };
  /** The base of links people open (pay links); default http://localhost:PORT. */
  publicUrl: string;
  /** Reminder channels (src/modules/messages); an unset channel's messages go to the outbox. */
  messaging: {
    smtp: { url: string; from: string } | undefined;
    sms: { url: string; token: string | undefined } | undefined;
    whatsapp: { url: string; token: string | undefined } | undefined;
    /** Whether this process runs the delivery worker (it also needs a configured channel). */
    deliver: boolean;
    maxAttempts: number;
    retryBaseSeconds: number;
  };
  /** Outbound webhooks (src/modules/webhooks). */
  webhooks: {
    /** Whether this process runs the delivery worker. */
    deliver: boolean;
    /** http on loopback, and private / loopback / link-local addresses, allowed (development, tests). */
    allowLocal: boolean;
    timeoutMs: number;
    /** Days an event is kept once its deliveries are finished; then the maintenance job purges it. */
    retentionDays: number;
  };
  /** Online payment (src/modules/gateway): which gateway checkouts open at. */
  gateway: {
    provider: 'simulator' | 'stripe' | 'off';
    stripe: { secretKey: string; webhookSecret: string; apiBase: string | undefined } | undefined;
    /** Where the bundled simulator posts its webhooks; unset: this server's own listening address. */
    simulatorWebhookUrl: string | undefined;
  };
  /** Bill runs (src/modules/billruns): runs of more invoices than inlineMax run as a background job. */
  billRuns: { inlineMax: number };
  /** OpenTelemetry tracing (src/telemetry.ts). */
  telemetry: {
    enabled: boolean;
    /** OTLP/HTTP base URL (traces go to `<endpoint>/v1/traces`); unset: http://localhost:4318. */
    otlpEndpoint: string | undefined;
    serviceName: string;
    /** Ratio of root traces sampled (0 to 1); children follow their parent's decision. */
    samplerRatio: number;
  };
  /** The collection assistant (src/modules/assistant). */
  assistant: {
    /** Set only when LLM_BASE_URL, LLM_API_KEY and LLM_MODEL all are. */
    llm: { baseUrl: string; apiKey: string; model: string; timeoutMs: number } | undefined;
    ratePerMinute: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const WHOLE_NUMBER = /^[+-]?\d+$/;
const DECIMAL_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Schema.properties)) {
    const value = source[key];
    if (value !== undefined && value.trim() !== '') {
      raw[key] = value.trim();
    }
  }
  // A number is written as one: conversion alone would read "1.5" as the integer 1 and
  // "0x10" as 16, and start with a value nobody wrote. A refused value is dropped (its
  // default fills in) so that it is named once.
  const problems: string[] = [];
  const properties = Object.entries(Schema.properties) as [string, TSchema & { description?: string; type?: unknown }][];
  const refuse = (name: string, expected: string) => {
    problems.push(`${name} ${expected}${SECRETS.has(name) ? '' : ` (got ${JSON.stringify(raw[name])})`}`);
    delete raw[name];
  };
  for (const [name, schema] of properties) {
    const value = raw[name];
    const shape = schema.type === 'integer' ? WHOLE_NUMBER : schema.type === 'number' ? DECIMAL_NUMBER : undefined;
    if (typeof value === 'string' && shape && !shape.test(value)) {
      refuse(name, `must be ${schema.description ?? (schema.type === 'integer' ? 'a whole number' : 'a number')}`);
    }
  }
  const converted = Value.Convert(Schema, Value.Default(Schema, raw)) as Record<string, unknown>;
  // Checked variable by variable so that every bad one is named, not only the first few.
  for (const [name, schema] of properties) {
    const value = converted[name];
    if (value === undefined || Value.Check(schema, value)) {
      continue;
    }
    const [first] = Value.Errors(schema, value);
    refuse(name, schema.description ? `must be ${schema.description}` : (first?.message ?? 'is invalid'));
  }
  if (problems.length > 0 || !Value.Check(Schema, converted)) {
    throw new ConfigError(problems);
  }
  const env = converted;
  if (env.NODE_ENV === 'production' && !env.JWT_SECRET) {
    throw new ConfigError(['JWT_SECRET is required when NODE_ENV=production (at least 32 characters)']);
  }
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    database: { url: env.DATABASE_URL, readUrl: env.DATABASE_READ_URL, poolMax: env.DATABASE_POOL_MAX },
    redisUrl: env.REDIS_URL,
    dataDir: env.BURSAR_DATA_DIR,
    embeddedPgPort: env.EMBEDDED_PG_PORT,
    seed: {
      demo: env.SEED_DEMO === 'on',
      password: env.SEED_PASSWORD ?? DEFAULT_SEED_PASSWORD,
      passwordIsDefault: env.SEED_PASSWORD === undefined,
    },
    auth: {
      jwtSecret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
      loginMaxFailuresPerUser: env.LOGIN_MAX_FAILURES_PER_USER,
      loginMaxFailuresPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
      loginThrottleWindowSeconds: env.LOGIN_THROTTLE_WINDOW_SECONDS,
    },
    rateLimit: { max: env.RATE_LIMIT_MAX, windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS },
    simulator: { enabled: auto(env.SIMULATOR, env.NODE_ENV), ratePerSecond: env.SIMULATOR_RATE },
    vendor: {
      url: env.VENDOR_URL,
      apiKey: env.VENDOR_API_KEY,
      simulator: { enabled: auto(env.VENDOR_SIMULATOR, env.NODE_ENV), port: env.VENDOR_SIMULATOR_PORT, entriesPerSecond: env.VENDOR_SIMULATOR_RATE },
    },
    sync: {
      enabled: auto(env.SYNC, env.NODE_ENV),
      intervalSeconds: env.SYNC_INTERVAL_SECONDS,
      requestsPerMinute: env.SYNC_REQUESTS_PER_MINUTE,
      pageSize: env.SYNC_PAGE_SIZE,
      maxAttempts: env.SYNC_MAX_ATTEMPTS,
      timeoutMs: env.SYNC_TIMEOUT_MS,
    },
    maintenance: { enabled: auto(env.MAINTENANCE, env.NODE_ENV), intervalSeconds: env.MAINTENANCE_INTERVAL_SECONDS },
    collections: { enabled: auto(env.COLLECTIONS, env.NODE_ENV), fromHour: env.COLLECTIONS_FROM_HOUR },
    billRuns: { inlineMax: env.BILL_RUN_INLINE_MAX },
    gateway: gatewayOf(env),
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    messaging: {
      smtp: env.SMTP_URL ? { url: env.SMTP_URL, from: env.MAIL_FROM } : undefined,
      sms: env.SMS_PROVIDER_URL ? { url: env.SMS_PROVIDER_URL, token: env.SMS_PROVIDER_TOKEN } : undefined,
      whatsapp: env.WHATSAPP_PROVIDER_URL ? { url: env.WHATSAPP_PROVIDER_URL, token: env.WHATSAPP_PROVIDER_TOKEN } : undefined,
      deliver: auto(env.MESSAGES, env.NODE_ENV),
      maxAttempts: env.MESSAGE_MAX_ATTEMPTS,
      retryBaseSeconds: env.MESSAGE_RETRY_BASE_SECONDS,
    },
    webhooks: {
      deliver: auto(env.WEBHOOKS, env.NODE_ENV),
      allowLocal: env.WEBHOOKS_ALLOW_LOCAL === 'on',
      timeoutMs: env.WEBHOOKS_TIMEOUT_MS,
      retentionDays: env.WEBHOOK_RETENTION_DAYS,
    },
    telemetry: {
      enabled: env.OTEL_TRACING === 'on',
      otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: env.OTEL_SERVICE_NAME,
      samplerRatio: env.OTEL_TRACES_SAMPLER_RATIO,
    },
    assistant: {
      llm:
        env.LLM_BASE_URL && env.LLM_API_KEY && env.LLM_MODEL
          ? { baseUrl: env.LLM_BASE_URL, apiKey: env.LLM_API_KEY, model: env.LLM_MODEL, timeoutMs: env.LLM_TIMEOUT_MS }
          : undefined,
      ratePerMinute: env.ASSISTANT_RATE_LIMIT_PER_MINUTE,
    },
  };
}

function gatewayOf(env: Env): Config['gateway'] {
  const stripe =
    env.STRIPE_SECRET_KEY && env.STRIPE_WEBHOOK_SECRET
      ? { secretKey: env.STRIPE_SECRET_KEY, webhookSecret: env.STRIPE_WEBHOOK_SECRET, apiBase: env.STRIPE_API_BASE }
      : undefined;
  if ((env.GATEWAY === 'stripe' || (env.GATEWAY === 'auto' && env.STRIPE_SECRET_KEY)) && stripe === undefined) {
    throw new ConfigError(['STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must both be set for Stripe Checkout']);
  }
  const provider = env.GATEWAY === 'auto' ? (stripe ? 'stripe' : env.NODE_ENV === 'production' ? 'off' : 'simulator') : env.GATEWAY;
  return { provider, stripe, simulatorWebhookUrl: env.GATEWAY_SIMULATOR_WEBHOOK_URL };
}

/** `auto` switches are on for `npm start` (development) and off under test and in production. */
function auto(value: 'on' | 'off' | 'auto', env: Env['NODE_ENV']): boolean {
  return value === 'on' || (value === 'auto' && env === 'development');
}
