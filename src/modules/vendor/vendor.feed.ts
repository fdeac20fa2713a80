/**
 * The vendor's account feed, in arrival order: what the simulator serves page by page.
 *
 * The feed is DERIVED, not stored: a small definition (seed, account count, a schedule
 * of segments, the rare injected re-sends) determines every entry, so
 *
 *   - entry k of the base sequence always has the same account, type and amount (a pure
 *     function of the seed and k, see FeedBodies), and the same createdAt (a pure
 *     function of the schedule);
 *   - a simulator restarted from the same definition serves the same feed: every cursor
 *     it handed out before stays valid and every id keeps its body;
 *   - the live rate continues from wall-clock time: entries "produced" while the process
 *     was down are there at once when it comes back, as at a real vendor.
 *
 * A feed position (the sequence number, `seq`) is the cursor: entries are appended as
 * they "arrive" at the vendor, so a late entry with an old createdAt still comes after
 * every cursor handed out before it arrived. Nothing is kept per entry, so a full
 * simulated day (7.2 M entries) costs a few cached blocks (~600 KB each), not 120 MB.
 */
export const ENTRY_TYPES = ['earned', 'spent', 'payout', 'paid_out'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface VendorEntry {
  id: string;
  accountId: string;
  /** ISO timestamp (ms precision). */
  createdAt: string;
  type: EntryType;
  /** Integer minor units, > 0. */
  amount: number;
}

/** Base entries per generator block: the account sums restart at zero in every block. */
export const BLOCK_SIZE = 65_536;
const CACHED_BLOCKS = 4;
const DAY_MS = 86_400_000;

/** The base entry k's id; `feedId` namespaces the ids of a persisted feed. */
export const entryId = (k: number, feedId = '') => `ent_${feedId === '' ? '' : `${feedId}_`}${k.toString().padStart(10, '0')}`;
export const accountIdOf = (index: number) => `acct_${index.toString().padStart(5, '0')}`;

/** mulberry32: a small seeded PRNG, so a seed gives the same feed every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** murmur3's finaliser over two words: the seed of one block's generator. */
function blockSeed(seed: number, block: number): number {
  let h = (seed ^ Math.imul(block + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

interface Block {
  accounts: Uint32Array;
  types: Uint8Array;
  amounts: Uint32Array;
  /** Entries generated so far (the block is filled lazily, in order). */
  generated: number;
  random: () => number;
  /** earned, spent, payout, paid_out per account, for this block only. */
  sums: Float64Array | null;
}

/**
 * The bodies of the base sequence: entry k's account, type and amount, a pure function
 * of (seed, accounts, k).
 *
 * Entries are generated block by block (BLOCK_SIZE each) from a PRNG seeded with the
 * seed and the block number, so any entry is reached without generating the feed before
 * its block. Inside a block, sums are kept per account so that they make sense: spending
 * and payout requests never exceed what is available (earned − spent − payout), and a
 * paid_out never exceeds the outstanding requests. Every block starts from zero sums,
 * and the real sums are sums of blocks, so those rules hold at every prefix of the feed.
 */
export class FeedBodies {
  private readonly cache = new Map<number, Block>();

  constructor(
    readonly seed: number,
    readonly accountCount: number,
  ) {
    if (!Number.isInteger(accountCount) || accountCount < 1) {
      throw new RangeError('accounts must be a positive integer');
    }
  }

  get(k: number): { accountIndex: number; type: EntryType; amount: number } {
    const blockIndex = Math.floor(k / BLOCK_SIZE);
    const offset = k - blockIndex * BLOCK_SIZE;
    const block = this.block(blockIndex);
    this.fill(block, offset + 1);
    return {
      accountIndex: block.accounts[offset] ?? 0,
      type: ENTRY_TYPES[block.types[offset] ?? 0] ?? 'earned',
      amount: block.amounts[offset] ?? 0,
    };
  }

  private block(index: number): Block {
    const cached = this.cache.get(index);
    if (cached !== undefined) {
      // Most recently used last.
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const block: Block = {
      accounts: new Uint32Array(BLOCK_SIZE),
      types: new Uint8Array(BLOCK_SIZE),
      amounts: new Uint32Array(BLOCK_SIZE),
      generated: 0,
      random: seededRandom(blockSeed(this.seed, index)),
      sums: new Float64Array(this.accountCount * 4),
    };
    this.cache.set(index, block);
    if (this.cache.size > CACHED_BLOCKS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) {
        this.cache.delete(oldest);
      }
    }
    return block;
  }

  private fill(block: Block, upTo: number): void {
    const sums = block.sums;
    if (sums === null) {
      return;
    }
    const random = block.random;
    for (let i = block.generated; i < upTo; i++) {
      const accountIndex = Math.floor(random() * this.accountCount);
      const at = accountIndex * 4;
      const earned = sums[at] ?? 0;
      const spent = sums[at + 1] ?? 0;
      const payout = sums[at + 2] ?? 0;
      const paidOut = sums[at + 3] ?? 0;
      const outstanding = payout - paidOut;
      const available = earned - spent - paidOut - outstanding;
      const roll = random();
      let type = 0;
      let amount = 100 + Math.floor(random() * 49_900);
      if (roll >= 0.5 && roll < 0.7 && available > 0) {
        type = 1;
        amount = 1 + Math.floor(random() * Math.min(available, 20_000));
      } else if (roll >= 0.7 && roll < 0.85 && available > 0) {
        type = 2;
        amount = 1 + Math.floor(random() * available);
      } else if (roll >= 0.85 && outstanding > 0) {
        type = 3;
        amount = random() < 0.7 ? outstanding : 1 + Math.floor(random() * outstanding);
      }
      sums[at + type] = (sums[at + type] ?? 0) + amount;
      block.accounts[i] = accountIndex;
      block.types[i] = type;
      block.amounts[i] = amount;
    }
    block.generated = Math.max(block.generated, upTo);
    if (block.generated >= BLOCK_SIZE) {
      block.sums = null;
    }
  }
}

/**
 * When base entries arrive, in order. Only the last segment may be open (a `rate` without
 * `count`); every change of schedule (an append, late entries, a new rate after a restart)
 * closes it at the entries due by then and opens a new one.
 */
export type Segment =
  /** Entries present when the feed was created: they arrive at `at`, created over the `spanMs` before it. */
  | { kind: 'history'; from: number; count: number; at: number; spanMs: number }
  /** `count` entries arriving at `at`, the i-th created at `at − ageMs − i·stepMs` (late entries have an age). */
  | { kind: 'burst'; from: number; count: number; at: number; ageMs: number; stepMs: number }
  /** Entries produced at `rate` per second from `at`: the i-th is created (and arrives) at `at + ⌈(i+1)·1000/rate⌉`. */
  | { kind: 'rate'; from: number; at: number; rate: number; count?: number };

/** An id re-sent with another body (the changed_body fault): a copy of base entry `of` with `delta` added to its amount. */
export interface Special {
  seq: number;
  at: number;
  of: number;
  delta: number;
}

/** Everything that determines a feed. Small: it grows only with schedule changes and injected faults. */
export interface FeedDefinition {
  version: 1;
  /** Namespaces ids and cursors; '' for a throwaway feed (tests, the bench). */
  feedId: string;
  seed: number;
  accounts: number;
  segments: Segment[];
  specials: Special[];
  /** Bumped by the reset fault: cursors handed out under an earlier generation are refused. */
  generation: number;
}

/** Math.ceil that ignores float noise (1000 / (100/60) is 600.0000000000001, not 601). */
const ceilMs = (value: number) => Math.ceil(value - 1e-6);

function rateCount(segment: Extract<Segment, { kind: 'rate' }>, now: number): number {
  if (segment.count !== undefined) {
    return segment.count;
  }
  if (segment.rate <= 0 || now <= segment.at) {
    return 0;
  }
  const step = 1000 / segment.rate;
  let count = Math.floor((now - segment.at) / step);
  while (count > 0 && segment.at + ceilMs(count * step) > now) {
    count -= 1;
  }
  while (segment.at + ceilMs((count + 1) * step) <= now) {
    count += 1;
  }
  return count;
}

const segmentCount = (segment: Segment, now: number) => (segment.kind === 'rate' ? rateCount(segment, now) : segment.count);

/** A new feed's definition: `history` entries created over the day before `at`, then `rate` entries a second. */
export function newFeedDefinition(options: { feedId?: string; seed: number; accounts: number; history: number; rate: number; at: number }): FeedDefinition {
  const segments: Segment[] = [];
  const history = Math.max(0, Math.floor(options.history));
  if (history > 0) {
    segments.push({ kind: 'history', from: 0, count: history, at: options.at, spanMs: DAY_MS });
  }
  segments.push({ kind: 'rate', from: history, at: options.at, rate: options.rate });
  return { version: 1, feedId: options.feedId ?? '', seed: options.seed, accounts: options.accounts, segments, specials: [], generation: 0 };
}

/** A loaded definition is checked before use: a hand-edited or truncated one must not serve a wrong feed. */
export function checkFeedDefinition(value: unknown): FeedDefinition {
  const def = value as Partial<FeedDefinition> | null;
  const ok =
    typeof def === 'object' &&
    def !== null &&
    def.version === 1 &&
    typeof def.feedId === 'string' &&
    /^[a-z0-9]{0,16}$/.test(def.feedId) &&
    Number.isInteger(def.seed) &&
    Number.isInteger(def.accounts) &&
    (def.accounts ?? 0) >= 1 &&
    Number.isInteger(def.generation) &&
    Array.isArray(def.segments) &&
    def.segments.length > 0 &&
    def.segments.every((s, i, all) => typeof s === 'object' && Number.isFinite(s.at) && Number.isInteger(s.from) && (i === 0 ? s.from === 0 : s.from >= (all[i - 1]?.from ?? 0))) &&
    Array.isArray(def.specials);
  if (!ok) {
    throw new Error('the vendor simulator feed definition is not valid');
  }
  return def as FeedDefinition;
}

/**
 * A feed read from its definition. Mutations (append, late, changed, rate, reset) change
 * the definition and call `onChange`, so a persisted feed is saved after each.
 */
export class Feed {
  private readonly bodies: FeedBodies;
  /** The most base entries ever counted: the feed never shrinks, even if the clock steps back. */
  private highWater = 0;

  constructor(
    readonly definition: FeedDefinition,
    private readonly onChange: (definition: FeedDefinition) => void = () => undefined,
  ) {
    this.bodies = new FeedBodies(definition.seed, definition.accounts);
  }

  /** Base entries that have arrived by `now`. */
  baseCount(now: number): number {
    const last = this.definition.segments[this.definition.segments.length - 1];
    const count = last === undefined ? 0 : last.from + segmentCount(last, now);
    this.highWater = Math.max(this.highWater, count);
    return this.highWater;
  }

  /** Entries in the feed by `now` (base entries and re-sends). */
  length(now: number): number {
    return this.baseCount(now) + this.definition.specials.length;
  }

  /** The entry at a feed position (0-based); the caller checks `seq < length(now)`. */
  get(seq: number): VendorEntry {
    const special = this.specialAt(seq);
    if (special !== undefined) {
      const original = this.base(special.of);
      return { ...original, amount: original.amount + special.delta };
    }
    return this.base(seq - this.specialsBefore(seq));
  }

  /** When the entry at `seq` arrived at the vendor (non-decreasing in seq). */
  arrivalAt(seq: number): number {
    const special = this.specialAt(seq);
    if (special !== undefined) {
      return special.at;
    }
    const k = seq - this.specialsBefore(seq);
    const segment = this.segmentOf(k);
    return segment.kind === 'rate' ? this.createdAt(segment, k) : segment.at;
  }

  /** The first position whose entry arrived at or after `since` (the head when none has). */
  firstArrivedAtOrAfter(since: number, now: number): number {
    let low = 0;
    let high = this.length(now);
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (this.arrivalAt(middle) >= since) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    return low;
  }

  /** Appends `count` base entries created now. */
  append(now: number, count: number): void {
    this.insertBurst(now, { count, ageMs: 0, stepMs: 0 });
  }

  /** Appends `count` base entries that arrive now with createdAt `ageMs` (and i ms more) in the past. */
  late(now: number, count: number, ageMs: number): void {
    this.insertBurst(now, { count, ageMs, stepMs: 1 });
  }

  /** Re-sends `count` earlier ids (spread over the feed) with `delta` added to their amount. */
  changed(now: number, count: number, delta: number): void {
    const base = this.baseCount(now);
    if (base === 0 || count <= 0) {
      return;
    }
    let seq = this.length(now);
    for (let i = 0; i < count; i++) {
      this.definition.specials.push({ seq, at: now, of: Math.floor((base * (i + 1)) / (count + 1)), delta });
      seq += 1;
    }
    this.onChange(this.definition);
  }

  /** Produces `rate` entries a second from now on (the entries due so far keep their times). */
  setRate(now: number, rate: number): void {
    const last = this.definition.segments[this.definition.segments.length - 1];
    if (last?.kind === 'rate' && last.count === undefined && last.rate === rate) {
      return;
    }
    this.closeOpenSegment(now);
    this.definition.segments.push({ kind: 'rate', from: this.baseCount(now), at: now, rate });
    this.onChange(this.definition);
  }

  /** Forgets every cursor handed out so far (the entries stay as they are). */
  reset(): void {
    this.definition.generation += 1;
    this.onChange(this.definition);
  }

  /** The rate of the open segment (entries/s). */
  rate(): number {
    const last = this.definition.segments[this.definition.segments.length - 1];
    return last?.kind === 'rate' && last.count === undefined ? last.rate : 0;
  }

  private insertBurst(now: number, burst: { count: number; ageMs: number; stepMs: number }): void {
    if (burst.count <= 0) {
      return;
    }
    const rate = this.rate();
    this.closeOpenSegment(now);
    const from = this.baseCount(now);
    const last = this.definition.segments[this.definition.segments.length - 1];
    if (last?.kind === 'burst' && last.at === now && burst.ageMs === 0 && last.ageMs === 0 && last.stepMs === 0 && last.from + last.count === from) {
      // Appends at one instant are one burst (tests append often).
      last.count += burst.count;
    } else {
      this.definition.segments.push({ kind: 'burst', from, at: now, ...burst });
    }
    this.highWater = from + burst.count;
    this.definition.segments.push({ kind: 'rate', from: this.highWater, at: now, rate });
    this.onChange(this.definition);
  }

  /** Fixes the open segment's count at the entries due by now (dropping it when empty). */
  private closeOpenSegment(now: number): void {
    const segments = this.definition.segments;
    const last = segments[segments.length - 1];
    if (last?.kind !== 'rate' || last.count !== undefined) {
      return;
    }
    const count = Math.max(rateCount(last, now), this.highWater - last.from);
    if (count === 0 && segments.length > 1) {
      segments.pop();
    } else {
      last.count = count;
    }
  }

  private base(k: number): VendorEntry {
    const segment = this.segmentOf(k);
    const body = this.bodies.get(k);
    return {
      id: entryId(k, this.definition.feedId),
      accountId: accountIdOf(body.accountIndex),
      createdAt: new Date(this.createdAt(segment, k)).toISOString(),
      type: body.type,
      amount: body.amount,
    };
  }

  private createdAt(segment: Segment, k: number): number {
    const i = k - segment.from;
    switch (segment.kind) {
      case 'history':
        return segment.at - segment.spanMs + Math.floor((i * segment.spanMs) / Math.max(1, segment.count));
      case 'burst':
        return segment.at - segment.ageMs - i * segment.stepMs;
      case 'rate':
        return segment.at + ceilMs(((i + 1) * 1000) / segment.rate);
    }
  }

  /** The segment holding base entry k (the last one whose `from` ≤ k). */
  private segmentOf(k: number): Segment {
    const segments = this.definition.segments;
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((segments[middle]?.from ?? 0) <= k) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    const segment = segments[low];
    if (segment === undefined) {
      throw new RangeError(`no feed entry ${k}`);
    }
    return segment;
  }

  private specialAt(seq: number): Special | undefined {
    const specials = this.definition.specials;
    if (specials.length === 0) {
      return undefined;
    }
    const index = this.specialsBefore(seq);
    const special = specials[index];
    return special?.seq === seq ? special : undefined;
  }

  /** How many re-sends sit before position `seq` (they are sorted: each was appended at the head). */
  private specialsBefore(seq: number): number {
    const specials = this.definition.specials;
    let low = 0;
    let high = specials.length;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if ((specials[middle]?.seq ?? 0) < seq) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }
}
