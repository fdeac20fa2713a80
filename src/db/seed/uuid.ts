import { seededUuidWords } from './copy-writer.js';

/**
 * UUIDv7 (RFC 9562) built in JS, fast enough for millions of ids: the 48-bit Unix
 * millisecond timestamp, version 7, variant 10 and 74 "random" bits. The random bits come
 * from (seed, kind, school, row) rather than from a stateful generator, so every
 * id is a pure function of where its row sits in the data set: a stream that needs only
 * invoice ids never has to generate the student ids before them.
 */
/** '0000'..'ffff': one lookup per 16 bits. */
const HEX16: string[] = Array.from({ length: 65_536 }, (_, i) => i.toString(16).padStart(4, '0'));

/** A UUIDv7 string from a millisecond timestamp and three 32-bit random words. */
export function uuidV7(ms: number, a: number, b: number, c: number): string {
  const high = Math.floor(ms / 65_536); // top 32 of the 48 timestamp bits
  return (
    (HEX16[high >>> 16] as string) +
    (HEX16[high & 0xffff] as string) +
    '-' +
    (HEX16[ms & 0xffff] as string) +
    '-' +
    (HEX16[0x7000 | (a & 0x0fff)] as string) +
    '-' +
    (HEX16[0x8000 | ((a >>> 12) & 0x3fff)] as string) +
    '-' +
    (HEX16[b & 0xffff] as string) +
    (HEX16[c >>> 16] as string) +
    (HEX16[c & 0xffff] as string)
  );
}

/** The deterministic id of row `row` of kind `kind` in school `school` (see seededUuidWords). */
export function seededUuid(key: number, kind: number, school: number, row: number, ms: number): string {
  const [a, b, c] = seededUuidWords(key, kind, school, row);
  return uuidV7(ms, a, b, c);
}

export const UUID_V7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The millisecond timestamp of a UUIDv7. */
export function uuidV7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
