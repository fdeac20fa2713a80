/**
 * Test reporter for `npm test`: after the run, the slowest test files with their wall
 * time, so the suite's cost stays visible (CI has a 30-minute budget). Loaded beside the
 * spec reporter by scripts/test.ts; plain JavaScript because the runner loads reporters
 * before tsx.
 */
/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* slowestFiles(source) {
  /** @type {{ file: string, ms: number }[]} */
  const files = [];
  for await (const event of source) {
    if (event.type !== 'test:complete') {
      continue;
    }
    const { file, name, details } = event.data;
    if (file && name === file) {
      files.push({ file, ms: details.duration_ms });
    }
  }
  if (files.length < 2) {
    return;
  }
  const total = files.reduce((sum, f) => sum + f.ms, 0);
  const cwd = process.cwd() + '/';
  const lines = files
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 15)
    .map((f) => `#   ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${f.file.startsWith(cwd) ? f.file.slice(cwd.length) : f.file}`);
  yield `# slowest test files (of ${files.length}, ${(total / 1000).toFixed(0)} s summed over parallel workers):\n${lines.join('\n')}\n`;
}
