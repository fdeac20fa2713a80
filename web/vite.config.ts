import tailwindcss from 'tailwindcss';
import react from '@vitejs/plugin-react';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** What is worth compressing: text. Images other than SVG, fonts (woff2) and maps are not. */
const COMPRESSIBLE = /\.(?:html|js|mjs|css|svg|json|txt|xml|webmanifest)$/;
/**
 * Below this a compressed copy saves a few hundred bytes of an answer that fits in one
 * packet anyway; HTML (index.html, the first request of every visit) is compressed whatever its size.
 */
const MIN_BYTES = 1024;

/**
 * Writes `file.br` (brotli, quality 11) and `file.gz` (gzip -9) next to every text file
 * of the build, index.html included, for the server to send instead of the file when the
 * browser accepts it (src/plugins/web.ts, @fastify/static `preCompressed`). Done once
 * here at the highest levels rather than on every request. A copy that is not smaller
 * is not written (the server then sends the file itself). Thirty lines of node:zlib do
 * what a plugin dependency would.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'bursar:precompress',
    apply: 'build',
    enforce: 'post',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const entries = await readdir(outDir, { recursive: true, withFileTypes: true });
      const files = entries.filter((entry) => entry.isFile() && COMPRESSIBLE.test(entry.name)).map((entry) => path.join(entry.parentPath, entry.name));
      await Promise.all(
        files.map(async (file) => {
          if ((await stat(file)).size < MIN_BYTES && !file.endsWith('.html')) {
            return;
          }
          const source = await readFile(file);
          const [br, gz] = await Promise.all([
            brotli(source, {
              params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: source.length },
            }),
            gzipAsync(source, { level: constants.Z_BEST_COMPRESSION }),
          ]);
          await Promise.all([br.length < source.length ? writeFile(`${file}.br`, br) : undefined, gz.length < source.length ? writeFile(`${file}.gz`, gz) : undefined]);
        }),
      );
    },
  };
}

/**
 * The dashboard build: web/src → web/dist, served by the Fastify server at `/`
 * (src/plugins/web.ts). `npm run dev:web` proxies /api (and the live WebSocket) to a
 * server started with `npm run dev` on port 3000.
 *
 * Source maps are `hidden`: written to web/dist for debugging a production stack trace,
 * but not named in the bundles, and the server never serves them. The Vite dev server
 * (`npm run dev:web`) has its own inline maps.
 *
 * Each page is its own chunk (React.lazy in web/src/app/App.tsx); recharts ends up in a
 * chunk that only the chart pages (Overview, Live, Monitoring) load.
 */
export default defineConfig({
  plugins: [react(), precompress()],
  css: { postcss: { plugins: [tailwindcss({ config: fileURLToPath(new URL('./tailwind.config.js', import.meta.url)) })] } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: 'hidden',
    chunkSizeWarningLimit: 1024,
    // Brotli at its highest quality takes seconds by design (once per build, for every
    // visitor's bytes); Rolldown's "plugin took a significant share" warning would say so
    // on every build.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:3000', ws: true },
    },
  },
});
