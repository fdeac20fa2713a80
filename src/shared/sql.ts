import { sql, type RawBuilder } from 'kysely';

/** An optional SQL fragment: `condition(value)` when the value is set, nothing otherwise. */
export function andIf<T>(value: T | undefined, condition: (value: T) => RawBuilder<unknown>): RawBuilder<unknown> {
  return value === undefined ? sql`` : condition(value);
}
