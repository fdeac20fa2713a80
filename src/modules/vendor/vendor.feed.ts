/**
 * The vendor's account feed, in arrival order: what the simulator serves page by page.
 *
 * A feed position (the sequence number) is the cursor: entries are appended as they
 * "arrive" at the vendor, so a late entry with an old createdAt still comes after every
 * cursor handed out before it arrived. Columns are kept in typed arrays (17 bytes an
 * entry) so a full simulated day (7.2 M entries) fits in ~120 MB.
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

const CHUNK = 1 << 16;

export const entryId = (seq: number) => `ent_${seq.toString().padStart(10, '0')}`;
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

export class FeedLog {
  private readonly accounts: Uint32Array[] = [];
  private readonly types: Uint8Array[] = [];
  private readonly amounts: Uint32Array[] = [];
  private readonly times: Float64Array[] = [];
  /** Entries whose id is not `entryId(seq)`: an id re-sent with another body. */
  private readonly idOverrides = new Map<number, string>();
  length = 0;

  push(entry: { accountIndex: number; type: EntryType; amount: number; createdAt: number; id?: string }): number {
    const seq = this.length;
    const chunk = Math.floor(seq / CHUNK);
    const offset = seq % CHUNK;
    if (offset === 0) {
      this.accounts.push(new Uint32Array(CHUNK));
      this.types.push(new Uint8Array(CHUNK));
      this.amounts.push(new Uint32Array(CHUNK));
      this.times.push(new Float64Array(CHUNK));
    }
    (this.accounts[chunk] as Uint32Array)[offset] = entry.accountIndex;
    (this.types[chunk] as Uint8Array)[offset] = ENTRY_TYPES.indexOf(entry.type);
    (this.amounts[chunk] as Uint32Array)[offset] = entry.amount;
    (this.times[chunk] as Float64Array)[offset] = entry.createdAt;
    if (entry.id !== undefined && entry.id !== entryId(seq)) {
      this.idOverrides.set(seq, entry.id);
    }
    this.length += 1;
    return seq;
  }

  /** The entry at a feed position (0-based). */
  get(seq: number): VendorEntry {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.length) {
      throw new RangeError(`no feed entry ${seq}`);
    }
    const chunk = Math.floor(seq / CHUNK);
    const offset = seq % CHUNK;
    return {
      id: this.idOverrides.get(seq) ?? entryId(seq),
      accountId: accountIdOf((this.accounts[chunk] as Uint32Array)[offset] ?? 0),
      createdAt: new Date((this.times[chunk] as Float64Array)[offset] ?? 0).toISOString(),
      type: ENTRY_TYPES[(this.types[chunk] as Uint8Array)[offset] ?? 0] ?? 'earned',
      amount: (this.amounts[chunk] as Uint32Array)[offset] ?? 0,
    };
  }
}

interface AccountState {
  earned: number;
  spent: number;
  payout: number;
  paidOut: number;
}

/**
 * Makes entries whose sums make sense per account: spending and payout requests never
 * exceed what is available (balance − outstanding payouts), and a paid_out never exceeds
 * the outstanding payout requests. So balances and outstanding amounts stay ≥ 0.
 */
export class EntryGenerator {
  private readonly state: AccountState[];
  private readonly random: () => number;

  constructor(
    readonly accountCount: number,
    seed: number,
  ) {
    this.random = seededRandom(seed);
    this.state = Array.from({ length: accountCount }, () => ({ earned: 0, spent: 0, payout: 0, paidOut: 0 }));
  }

  next(): { accountIndex: number; type: EntryType; amount: number } {
    const accountIndex = Math.floor(this.random() * this.accountCount);
    const account = this.state[accountIndex] as AccountState;
    const outstanding = account.payout - account.paidOut;
    const available = account.earned - account.spent - account.paidOut - outstanding;
    const roll = this.random();
    let type: EntryType = 'earned';
    let amount = 100 + Math.floor(this.random() * 49_900);
    if (roll >= 0.5 && roll < 0.7 && available > 0) {
      type = 'spent';
      amount = 1 + Math.floor(this.random() * Math.min(available, 20_000));
    } else if (roll >= 0.7 && roll < 0.85 && available > 0) {
      type = 'payout';
      amount = 1 + Math.floor(this.random() * available);
    } else if (roll >= 0.85 && outstanding > 0) {
      type = 'paid_out';
      amount = this.random() < 0.7 ? outstanding : 1 + Math.floor(this.random() * outstanding);
    }
    switch (type) {
      case 'earned':
        account.earned += amount;
        break;
      case 'spent':
        account.spent += amount;
        break;
      case 'payout':
        account.payout += amount;
        break;
      case 'paid_out':
        account.paidOut += amount;
        break;
    }
    return { accountIndex, type, amount };
  }
}
