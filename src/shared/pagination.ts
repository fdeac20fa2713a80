import { Type, type Static } from 'typebox';
import { AppError } from './errors.js';

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

/** Decodes a cursor made by encodeCursor with `size` parts; a bad cursor is a 400. */
export function decodeCursor(cursor: string, size: number): (string | number)[] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === size &&
      value.every((part) => typeof part === 'string' || typeof part === 'number')
    ) {
      return value;
    }
  } catch {
    // fall through
  }
  throw new AppError('BAD_REQUEST', 'cursor is not valid for this list', {
    errors: [{ field: 'cursor', in: 'querystring', message: 'not a cursor returned by this list' }],
  });
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
