// `npm install` / `npm ci` run this (package.json "prepare"): build the dashboard so
// `npm install && npm start` serves it on a fresh clone. The build tools are
// devDependencies; on a production install without them (`npm ci --omit=dev`) there is
// nothing to build with, so this says so and leaves the install successful — ship
// web/dist from a full build in that case. A failing build does fail the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(path.join(root, 'package.json'));

let viteBin;
try {
  viteBin = path.join(path.dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
} catch {
  const built = existsSync(path.join(root, 'web', 'dist', 'index.html'));
  console.warn(`[bursar] vite is not installed (devDependencies omitted): dashboard not built${built ? '; the existing web/dist is kept' : '; run "npm run build:web" after a full install'}.`);
  process.exit(0);
}

console.log('[bursar] building the web dashboard (web/dist)…');
const result = spawnSync(process.execPath, [viteBin, 'build', 'web', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
