import { Counter, Gauge, type Registry } from 'prom-client';
import type { SyncService } from './sync.service.js';
import { SYNC_STATES } from './sync.state.js';
import type { SyncObserver } from './sync.worker.js';

/**
 * Prometheus metrics of the gateway sync. Gauges are read from PostgreSQL at scrape time
 * (so every instance reports the shared state); counters count what this process's
 * worker did.
 */
export function registerSyncGauges(registry: Registry, service: SyncService): void {
  let last: Awaited<ReturnType<SyncService['status']>> | undefined;
  let pending: Promise<void> | undefined;
  // One status query per scrape, however many gauges read it.
  const refresh = () => {
    pending ??= service
      .status()
      .then((status) => {
        last = status;
      })
      .catch(() => undefined)
      .finally(() => {
        setImmediate(() => {
          pending = undefined;
        });
      });
    return pending;
  };
  new Gauge({
    name: 'bursar_sync_lag_seconds',
    help: 'Seconds since the feed was last read to its head (the local copy was complete then)',
    labelNames: ['feed'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      // A feed without a lag (never complete, a finished backfill) has no sample rather than a stale one.
      this.reset();
      for (const feed of last?.feeds ?? []) {
        if (feed.lagSeconds !== null) {
          this.set({ feed: feed.feed }, feed.lagSeconds);
        }
      }
    },
  });
  new Gauge({
    name: 'bursar_sync_state',
    help: 'The derived state of each feed (1 for the current one): alert on needs_reset and blocked',
    labelNames: ['feed', 'state'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      for (const feed of last?.feeds ?? []) {
        for (const state of SYNC_STATES) {
          this.set({ feed: feed.feed, state }, feed.state === state ? 1 : 0);
        }
      }
    },
  });
  new Gauge({
    name: 'bursar_sync_behind_entries',
    help: 'Entries the vendor still had after our cursor at the last page',
    labelNames: ['feed'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      for (const feed of last?.feeds ?? []) {
        this.set({ feed: feed.feed }, feed.behind ?? 0);
      }
    },
  });
  new Gauge({
    name: 'bursar_sync_consecutive_failures',
    help: 'Failed attempts in a row at the current page',
    labelNames: ['feed'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      for (const feed of last?.feeds ?? []) {
        this.set({ feed: feed.feed }, feed.consecutiveFailures);
      }
    },
  });
  new Gauge({
    name: 'bursar_sync_dead_letters_open',
    help: 'Dead-lettered pages not yet resolved',
    registers: [registry],
    async collect() {
      await refresh();
      this.set(last?.deadLetters ?? 0);
    },
  });
  new Gauge({
    name: 'bursar_sync_budget_used',
    help: 'Vendor requests in the current 60 s window, all workers',
    registers: [registry],
    async collect() {
      await refresh();
      this.set(last?.budget.usedInWindow ?? 0);
    },
  });
}

export function createSyncCounters(registry: Registry): SyncObserver {
  const requests = new Counter({ name: 'bursar_sync_requests_total', help: 'Vendor feed requests by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const failures = new Counter({ name: 'bursar_sync_failures_total', help: 'Failed vendor requests by reason (429s included)', labelNames: ['reason'] as const, registers: [registry] });
  const stored = new Counter({ name: 'bursar_sync_entries_stored_total', help: 'Ledger entries stored (new vendor ids)', registers: [registry] });
  const duplicates = new Counter({ name: 'bursar_sync_duplicate_entries_total', help: 'Entries received again and skipped (already stored)', registers: [registry] });
  const conflicts = new Counter({ name: 'bursar_sync_conflicts_total', help: 'Vendor ids re-sent with another body (flagged)', registers: [registry] });
  const deadLetters = new Counter({ name: 'bursar_sync_dead_letters_total', help: 'Pages dead-lettered', registers: [registry] });
  return {
    request: (outcome) => requests.inc({ outcome }),
    failure: (reason) => failures.inc({ reason }),
    stored: (inserted, dup) => {
      stored.inc(inserted);
      duplicates.inc(dup);
    },
    conflicts: (count) => conflicts.inc(count),
    deadLetter: () => deadLetters.inc(),
  };
}
