import cliProgress from 'cli-progress';

/**
 * Progress on stderr: a cli-progress bar on a TTY, a plain line every few seconds
 * otherwise (CI logs, pipes).
 */
export interface Progress {
  update(done: number, table: string): void;
  stop(): void;
}

export function createProgress(total: number, options: { stream?: NodeJS.WriteStream; intervalMs?: number } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const started = Date.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'seeding [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | {table} | {duration_formatted}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0, table: '' });
    return {
      update(done, table) {
        bar.update(done, { table, rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const intervalMs = options.intervalMs ?? 5_000;
  let last = started;
  return {
    update(done, table) {
      const now = Date.now();
      if (now - last >= intervalMs) {
        last = now;
        const seconds = (now - started) / 1000;
        stream.write(
          `[seed] ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} rows (${Math.floor((100 * done) / Math.max(1, total))}%) ` +
            `${Math.round(done / seconds).toLocaleString('en-US')} rows/s, ${seconds.toFixed(1)} s (${table})\n`,
        );
      }
    },
    stop() {
      // Nothing to tear down: the summary is printed by the caller.
    },
  };
}
