import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time as a worker sees it: `now()` in epoch milliseconds and `sleep()`. Production uses
 * the system clock; tests and the bench pass another one (the sync's VirtualClock in
 * src/modules/sync/clock.ts, a hand-moved one for the demo simulator) so that a
 * simulated day or month runs in seconds. Code that takes a Clock reads it, never
 * Date.now().
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), undefined, signal ? { signal } : undefined),
};
