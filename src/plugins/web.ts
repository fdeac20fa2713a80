import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

export interface WebOptions {
  /** The built dashboard (`vite build` output); default `web/dist` in the repository. */
  root?: string;
}

export const DEFAULT_WEB_ROOT = path.resolve(import.meta.dirname, '../../web/dist');

/** Paths that belong to the server: never answered with the SPA's index.html. */
const SERVER_PREFIXES = ['/api', '/health', '/metrics', '/docs', '/openapi.json'];

const isServerPath = (url: string) => SERVER_PREFIXES.some((prefix) => url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`));

/** The page served when the dashboard was never built, instead of a crash or a bare 404. */
const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bursar — dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; color: #1e293b">
<h1>The Bursar dashboard has not been built</h1>
<p>The API is running (see <a href="/docs">/docs</a>), but <code>web/dist</code> is missing.
Build the dashboard with <code>npm run build:web</code> (it also runs on <code>npm install</code>) and reload this page.</p>
</body></html>`;

/** How long a browser keeps what it fetched from web/dist (see the plugin's docblock). */
export const CACHE_CONTROL = {
  /** Vite names every file under /assets by its content hash: a new build means new names. */
  hashed: 'public, max-age=31536000, immutable',
  /** index.html names the current build's assets, so it is revalidated on every load. */
  index: 'no-cache',
  /** web/public files (favicon.svg) keep their names across builds. */
  other: 'public, max-age=3600',
} as const;

/**
 * Never served, though they may be in web/dist: source maps (built `hidden` for whoever
 * debugs a production stack trace with the build at hand, not for every visitor: the map
 * is 5× the bundle and the whole source), and the .br/.gz variants, which are
 * served only in place of their file when Accept-Encoding allows it.
 */
const UNSERVED = /\.(?:map|br|gz)$/;

/**
 * Serves the web dashboard (web/dist) at `/`, with an SPA fallback: any GET that is not
 * a file and not a server path (/api, /health, /metrics, /docs, /openapi.json) gets
 * index.html so client-side routes survive a reload.
 *
 * The routes are declared here (with `config.policy: 'public'`) rather than by
 * @fastify/static itself, because the auth guard refuses any route without a policy;
 * @fastify/static only contributes `reply.sendFile` (its `serve: false` mode).
 *
 * Compression: the build writes a brotli and a gzip copy next to every text file
 * (web/vite.config.ts), and `preCompressed` makes sendFile send `file.br` or `file.gz`
 * with `Content-Encoding` when the request's Accept-Encoding takes it, and the file
 * itself otherwise — no compression work per request. `Vary: Accept-Encoding` tells
 * caches that the answer depends on it.
 *
 * Caching (CACHE_CONTROL): the header is ours, and sendFile is told to leave it alone —
 * by default `send` writes its own `Cache-Control: public, max-age=0`, which used to
 * overwrite the year asked for here.
 */
export default fp(
  async (app: FastifyInstance, options: WebOptions) => {
    const root = options.root ?? DEFAULT_WEB_ROOT;
    const built = existsSync(path.join(root, 'index.html'));
    if (!built) {
      app.log.warn(`web dashboard not built (${root}/index.html is missing): run "npm run build:web"; serving a placeholder page at /`);
    }
    if (built) {
      await app.register(fastifyStatic, { root, serve: false, decorateReply: true, index: false, preCompressed: true, cacheControl: false });
    }

    const sendBuilt = (reply: FastifyReply, file: string, cacheControl: string) =>
      reply.header('cache-control', cacheControl).header('vary', 'accept-encoding').sendFile(file);

    const sendIndex = (reply: FastifyReply) =>
      built
        ? sendBuilt(reply, 'index.html', CACHE_CONTROL.index)
        : reply.status(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);

    app.get('/', { config: { policy: 'public' }, schema: { hide: true } }, (_request, reply) => sendIndex(reply));

    app.get<{ Params: { '*': string } }>('/*', { config: { policy: 'public' }, schema: { hide: true } }, (request, reply) => {
      if (isServerPath(request.url)) {
        return reply.callNotFound();
      }
      const file = request.params['*'];
      if (UNSERVED.test(file)) {
        return reply.callNotFound();
      }
      if (file === 'index.html') {
        return sendIndex(reply);
      }
      if (built && existsSync(path.join(root, path.normalize(`/${file}`)))) {
        return sendBuilt(reply, file, file.startsWith('assets/') ? CACHE_CONTROL.hashed : CACHE_CONTROL.other);
      }
      // Something that looks like a file (has an extension) and does not exist is a
      // real 404; anything else is a client route.
      if (path.extname(file) !== '') {
        return reply.callNotFound();
      }
      return sendIndex(reply);
    });
  },
  { name: 'bursar-web', fastify: '5.x', dependencies: ['bursar-auth-guard'] },
);
