/**
 * Copies the README's screenshots from the last browser-test run into docs/screenshots/:
 * the Overview above the fold and the Live page for one school, both taken by
 * test/web/dashboard.test.ts on the demo data.
 *
 *   npm test -- test/web && node --import tsx scripts/docs-screenshots.ts
 */
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const from = path.join(root, 'test-artifacts', 'screenshots');
const to = path.join(root, 'docs', 'screenshots');
const shots = { 'docs-overview.png': 'overview.png', 'docs-live.png': 'live.png' };

mkdirSync(to, { recursive: true });
for (const [source, target] of Object.entries(shots)) {
  const file = path.join(from, source);
  if (!existsSync(file)) {
    console.error(`${file} is missing: run "npm test -- test/web" first`);
    process.exit(1);
  }
  copyFileSync(file, path.join(to, target));
  console.log(`docs/screenshots/${target} ← test-artifacts/screenshots/${source} (${Math.round(statSync(file).size / 1024)} KiB)`);
}
