import tailwindcss from 'tailwindcss';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The dashboard build: web/src → web/dist, served by the Fastify server at `/`
 * (src/plugins/web.ts). `npm run dev:web` proxies /api (and the live WebSocket) to a
 * server started with `npm run dev` on port 3000.
 */
export default defineConfig({
  plugins: [react()],
  css: { postcss: { plugins: [tailwindcss({ config: fileURLToPath(new URL('./tailwind.config.js', import.meta.url)) })] } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:3000', ws: true },
    },
  },
});
