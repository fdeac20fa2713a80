import { fmix32, hash32 } from './random.js';

/**
 * Writes COPY text-format rows straight into Buffers: no intermediate strings for the
 * hot columns (UUIDs, integers, timestamps), which is what makes millions of rows per
 * second possible in JS. Chunks are handed out with `take()` once `full`.
 */
/** Two ASCII hex digits per byte value. */
const HEX_PAIRS = Buffer.from(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join(''), 'latin1');
// Local aliases: under tsx, imported bindings are getters, which shows in a hot loop.
const mix = fmix32;
const hash = hash32;
const DAY = 86_400_000;
const TAB = 9;
const NL = 10;

export class CopyWriter {
  private buf: Buffer;
  private pos = 0;
  private rowCount = 0;
  private readonly limit: number;
  private readonly days = new Map<number, Buffer>();

  constructor(private readonly size = 1 << 20) {
    this.buf = Buffer.allocUnsafe(size);
    this.limit = size - 8192; // no row is longer than this
  }

  get full(): boolean {
    return this.pos >= this.limit;
  }

  get rows(): number {
    return this.rowCount;
  }

  /** The rows written so far, as one chunk; the writer starts a new buffer. */
  take(): Buffer {
    const chunk = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.size);
    this.pos = 0;
    this.rowCount = 0;
    return chunk;
  }

  tab(): this {
    this.buf[this.pos++] = TAB;
    return this;
  }

  /** Ends a row. */
  end(): void {
    this.buf[this.pos++] = NL;
    this.rowCount++;
  }

  /** NULL (\N). */
  nul(): this {
    this.buf[this.pos++] = 92;
    this.buf[this.pos++] = 78;
    return this;
  }

  /** Pre-encoded bytes (constants, already escaped). */
  bytes(bytes: Uint8Array): this {
    // A plain loop beats Buffer#copy for the short values written here.
    const buf = this.buf;
    const n = bytes.length;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      buf[pos++] = bytes[i] as number;
    }
    this.pos = pos;
    return this;
  }

  /** Text (UTF-8), escaped for COPY. */
  text(value: string): this {
    this.pos += this.buf.write(copyText(value), this.pos, 'utf8');
    return this;
  }

  /** ASCII text that needs no COPY escaping (ids, codes, dates, numbers as text). */
  ascii(value: string): this {
    this.pos += this.buf.write(value, this.pos, 'latin1');
    return this;
  }

  /** A non-negative integer. */
  int(value: number): this {
    if (value < 10) {
      this.buf[this.pos++] = 48 + value;
      return this;
    }
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) {
      digits++;
    }
    let v = value;
    for (let i = this.pos + digits - 1; i >= this.pos; i--) {
      const q = Math.floor(v / 10);
      this.buf[i] = 48 + (v - q * 10);
      v = q;
    }
    this.pos += digits;
    return this;
  }

  /** An integer of either sign (discount lines are negative). */
  signed(value: number): this {
    if (value < 0) {
      this.buf[this.pos++] = 45;
      return this.int(-value);
    }
    return this.int(value);
  }

  private two(value: number): void {
    const tens = (value / 10) | 0;
    this.buf[this.pos++] = 48 + tens;
    this.buf[this.pos++] = 48 + value - tens * 10;
  }

  /** A UTC timestamp: `YYYY-MM-DD HH:MM:SS.mmm+00`. */
  timestamp(ms: number): this {
    const day = Math.floor(ms / DAY);
    let date = this.days.get(day);
    if (date === undefined) {
      date = Buffer.from(new Date(day * DAY).toISOString().slice(0, 10) + ' ', 'latin1');
      this.days.set(day, date);
    }
    this.bytes(date);
    let rest = Math.floor(ms) - day * DAY;
    const hours = (rest / 3_600_000) | 0;
    rest -= hours * 3_600_000;
    const minutes = (rest / 60_000) | 0;
    rest -= minutes * 60_000;
    const seconds = (rest / 1000) | 0;
    const millis = rest - seconds * 1000;
    this.two(hours);
    this.buf[this.pos++] = 58;
    this.two(minutes);
    this.buf[this.pos++] = 58;
    this.two(seconds);
    this.buf[this.pos++] = 46;
    this.buf[this.pos++] = 48 + ((millis / 100) | 0);
    this.two(millis % 100);
    this.buf[this.pos++] = 43;
    this.buf[this.pos++] = 48;
    this.buf[this.pos++] = 48;
    return this;
  }

  /** Four hex digits (16 bits). */
  private hex16(value: number): void {
    const buf = this.buf;
    const hi = ((value >>> 8) & 0xff) * 2;
    const lo = (value & 0xff) * 2;
    buf[this.pos++] = HEX_PAIRS[hi] as number;
    buf[this.pos++] = HEX_PAIRS[hi + 1] as number;
    buf[this.pos++] = HEX_PAIRS[lo] as number;
    buf[this.pos++] = HEX_PAIRS[lo + 1] as number;
  }

  /** UUIDv7 from a millisecond timestamp and three random 32-bit words. */
  uuid(ms: number, a: number, b: number, c: number): this {
    const high = Math.floor(ms / 65_536);
    this.hex16(high >>> 16);
    this.hex16(high);
    this.buf[this.pos++] = 45;
    this.hex16(ms);
    this.buf[this.pos++] = 45;
    this.hex16(0x7000 | (a & 0x0fff));
    this.buf[this.pos++] = 45;
    this.hex16(0x8000 | ((a >>> 12) & 0x3fff));
    this.buf[this.pos++] = 45;
    this.hex16(b);
    this.hex16(c >>> 16);
    this.hex16(c);
    return this;
  }

  /** The deterministic UUIDv7 of a row (same bits as uuid.ts `seededUuid`). */
  seededUuid(key: number, kind: number, school: number, row: number, ms: number): this {
    const [a, b, c] = seededUuidWords(key, kind, school, row);
    return this.uuid(ms, a, b, c);
  }
}

const words: [number, number, number] = [0, 0, 0];

/**
 * The random words of a seeded id. They look random but are injective in (kind, school,
 * row) for a given seed: c is a bijection of the row, b's 16 bits of the school, a's 4 low
 * bits of the kind; so two rows created in the same millisecond (a month's invoices all
 * share their issue time) can never get the same id. The rest of a is a hash.
 */
export function seededUuidWords(key: number, kind: number, school: number, row: number): [number, number, number] {
  const h = hash(key, kind, school, row);
  const salt = mix(key ^ 0x2545f491);
  words[0] = ((h & ~0xf) | ((kind ^ salt) & 0xf)) >>> 0;
  words[1] = (Math.imul((school ^ (salt >>> 16)) & 0xffff, 0x9e37) & 0xffff) ^ (h & 0xffff0000);
  words[2] = mix((row ^ salt) >>> 0);
  return words;
}

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
export function copyText(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : value;
}
