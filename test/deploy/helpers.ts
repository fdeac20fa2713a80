import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The repository root (test/deploy/ → ../..). */
export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

export type Doc = Record<string, unknown>;

/** Every YAML document in a file, strictly parsed (duplicate keys and syntax errors throw). */
export function yamlDocuments(file: string): Doc[] {
  const docs = parseAllDocuments(read(file), { uniqueKeys: true, merge: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  return list
    .map((doc) => {
      if (doc.errors.length > 0) {
        throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      }
      return doc.toJS({ maxAliasCount: 100 }) as unknown;
    })
    .filter((value): value is Doc => value !== null && value !== undefined)
    .map((value) => {
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new Error(`${file}: a document is not a mapping`);
      }
      return value;
    });
}

export const k8sFiles = () =>
  readdirSync(path.join(ROOT, 'deploy', 'k8s'))
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .map((file) => path.join('deploy', 'k8s', file));

/**
 * The variables src/config.ts accepts: the keys of its EnvSchema object. The schema is
 * not exported, so its source is read; the test fails if that stops finding names.
 */
export function configVariables(): Set<string> {
  const source = read('src/config.ts');
  const start = source.indexOf('const EnvSchema = Type.Object({');
  const end = source.indexOf('\n});', start);
  if (start < 0 || end < 0) {
    throw new Error('EnvSchema not found in src/config.ts');
  }
  const names = [...source.slice(start, end).matchAll(/^\s{2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] ?? '');
  return new Set(names);
}

/** Variables whose values are secrets: they must come from a Secret / the environment. */
export const SECRET_VARIABLES = ['DATABASE_URL', 'DATABASE_READ_URL', 'REDIS_URL', 'JWT_SECRET', 'SEED_PASSWORD', 'VENDOR_API_KEY', 'LLM_API_KEY'];

/** A deterministic-looking value for each secret, valid for src/config.ts. */
export const SAMPLE_SECRETS: Record<string, string> = {
  DATABASE_URL: 'postgres://bursar:pw@primary:5432/bursar',
  DATABASE_READ_URL: 'postgres://bursar:pw@replica:5432/bursar',
  REDIS_URL: 'redis://redis:6379',
  JWT_SECRET: 'j'.repeat(48),
  SEED_PASSWORD: 'a-long-demo-password',
  VENDOR_API_KEY: 'vendor-key',
};

export function asRecord(value: unknown, what: string): Doc {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not a mapping`);
  }
  return value as Doc;
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new Error(`${what} is not a list`);
  }
  return value;
}
