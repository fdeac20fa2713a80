/**
 * Deterministic randomness for the seeder.
 *
 * - `hash32` mixes a few integers into one well-spread 32-bit value (murmur3 finaliser);
 *   it gives every school its own PRNG seeds and every row its own id bits, so any part of
 *   the data set can be regenerated on its own (each table is streamed by a separate pass).
 * - `Rng` is mulberry32 (as in seed-demo.ts) with a few helpers.
 */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hash32(a: number, b = 0, c = 0, d = 0): number {
  let h = fmix32(a ^ 0x9e3779b9);
  h = fmix32(h ^ Math.imul(b + 0x7f4a7c15, 0x27d4eb2f));
  h = fmix32(h ^ Math.imul(c + 0x165667b1, 0x9e3779b1));
  return fmix32(h ^ Math.imul(d + 0x61c88647, 0x85ebca77));
}

/** FNV-1a of a string: turns `--seed` (any text) into the 32-bit root key. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A weighted choice table built once: `pick(rng)` is one PRNG draw and a short scan. */
export class Weighted<T> {
  private readonly cumulative: number[] = [];
  private readonly values: T[] = [];

  constructor(entries: readonly (readonly [T, number])[]) {
    let total = 0;
    for (const [, weight] of entries) {
      total += weight;
    }
    let running = 0;
    for (const [value, weight] of entries) {
      running += weight / total;
      this.cumulative.push(running);
      this.values.push(value);
    }
    this.cumulative[this.cumulative.length - 1] = 1;
  }

  pick(rng: Rng): T {
    const r = rng.next();
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++) {
      if (r < (cumulative[i] as number)) {
        return this.values[i] as T;
      }
    }
    return this.values[this.values.length - 1] as T;
  }
}
