import { Type, type Static } from 'typebox';
import { AppError } from './errors.js';
import { isStorableText } from './input.js';

/**
 * Keyset pagination: `?limit=` (1–500, default 50) and an opaque `?cursor=` that
 * encodes the sort key of the last row returned. Pages stay fast at any depth because
 * the query seeks with `where (key...) > (cursor...)` instead of OFFSET.
 */
export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' })),
});
export type PageQuery = Static<typeof PageQuery>;

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The 400 for a cursor this list did not hand out (or that was tampered with), naming `cursor`. */
export function invalidCursor(message = 'not a cursor returned by this list'): AppError {
  return new AppError('BAD_REQUEST', 'cursor is not valid for this list', {
    errors: [{ field: 'cursor', in: 'querystring', message }],
  });
}

/**
 * Decodes a cursor made by encodeCursor with `size` parts; a bad cursor is a 400 naming
 * `cursor`. Whatever the list, a part is a storable string (no NUL, no lone surrogate)
 * or a safe integer: the parts go into SQL, and a cursor is client input.
 */
export function decodeCursor(cursor: string, size: number): (string | number)[] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (
    Array.isArray(value) &&
    value.length === size &&
    value.every((part) => (typeof part === 'string' && isStorableText(part)) || (typeof part === 'number' && Number.isSafeInteger(part)))
  ) {
    return value as (string | number)[];
  }
  throw invalidCursor();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?Z$/;

/** A real calendar day PostgreSQL accepts: year 0001–9999 (there is no year 0), no 30 February. */
function isRealDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match || Number(match[1]) < 1) {
    return false;
  }
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

/** Checks for the parts of a cursor (see decodeCursorOf). */
export const cursorPart = {
  uuid: (part: unknown): part is string => typeof part === 'string' && UUID.test(part),
  /** 'YYYY-MM-DD', a real day. */
  date: (part: unknown): part is string => typeof part === 'string' && isRealDate(part),
  /** An ISO instant in UTC ('…T12:34:56.123456Z'), on a real day. */
  timestamp: (part: unknown): part is string => {
    const match = typeof part === 'string' ? TIMESTAMP.exec(part) : null;
    return match !== null && isRealDate(match[1] ?? '');
  },
  /** A non-negative safe integer (a count, an amount). */
  count: (part: unknown): part is number => typeof part === 'number' && Number.isSafeInteger(part) && part >= 0,
  text: (part: unknown): part is string => typeof part === 'string',
} as const;

type CursorCheck = (part: unknown) => boolean;
type CheckedPart<C> = C extends (part: unknown) => part is infer T ? T : never;

/**
 * Decodes a cursor and checks each part against what this list puts there, so a forged
 * cursor is a 400 naming `cursor` rather than a database error:
 * `const [id] = decodeCursorOf(cursor, [cursorPart.uuid])`.
 */
export function decodeCursorOf<const C extends readonly CursorCheck[]>(cursor: string, checks: C): { [K in keyof C]: CheckedPart<C[K]> } {
  const parts = decodeCursor(cursor, checks.length);
  if (!parts.every((part, i) => checks[i]?.(part) === true)) {
    throw invalidCursor();
  }
  return parts as { [K in keyof C]: CheckedPart<C[K]> };
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only tells that another
 * page exists.
 */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => readonly (string | number)[]): Page<T> {
  if (rows.length <= limit) {
    return { data: rows, nextCursor: null };
  }
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: last === undefined ? null : encodeCursor(keyOf(last)) };
}
