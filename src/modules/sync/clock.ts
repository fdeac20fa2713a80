import type { Clock } from '../../shared/clock.js';

/** The Clock interface and the system clock are shared (src/shared/clock.ts): the demo simulator reads one too. */
export { systemClock, type Clock } from '../../shared/clock.js';

interface Sleeper {
  at: number;
  order: number;
  wake: () => void;
}

/**
 * A discrete-event clock. Time stands still while any participant works (a request, a
 * transaction) and jumps to the earliest wake-up when every participant sleeps, so
 * concurrent workers interleave exactly as they would in real time, only faster, and a
 * request reaches the vendor at the same virtual instant its budget slot was reserved.
 *
 * Participants `join()` and call the returned `leave()` when done; with no participant
 * joined, a single sleeper advances the clock at once.
 */
export class VirtualClock implements Clock {
  private time: number;
  private participants = 0;
  private order = 0;
  private readonly sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Moves time forward by hand (waking every sleeper due by then). */
  advance(ms: number): void {
    this.time += Math.max(0, ms);
    for (const sleeper of [...this.sleepers].sort(bySchedule)) {
      if (sleeper.at <= this.time) {
        this.remove(sleeper);
        sleeper.wake();
      }
    }
  }

  join(): () => void {
    this.participants += 1;
    let left = false;
    return () => {
      if (!left) {
        left = true;
        this.participants -= 1;
        this.step();
      }
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) {
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.time + Math.max(0, ms),
        order: this.order++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.remove(sleeper);
        reject(signal?.reason as Error);
        this.step();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
      this.step();
    });
  }

  private remove(sleeper: Sleeper): void {
    const index = this.sleepers.indexOf(sleeper);
    if (index >= 0) {
      this.sleepers.splice(index, 1);
    }
  }

  /** When everyone sleeps, wake the earliest sleeper at its time. */
  private step(): void {
    if (this.sleepers.length === 0 || this.sleepers.length < Math.max(1, this.participants)) {
      return;
    }
    const next = [...this.sleepers].sort(bySchedule)[0];
    if (next === undefined) {
      return;
    }
    this.remove(next);
    this.time = Math.max(this.time, next.at);
    next.wake();
  }
}

const bySchedule = (a: Sleeper, b: Sleeper) => a.at - b.at || a.order - b.order;
