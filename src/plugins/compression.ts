import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Only JSON bodies: they are built in memory (never a stream) and compress 5–10×. */
const JSON_TYPE = /^application\/(?:problem\+)?json\s*(?:;|$)/i;
/** Below this the saving is less than the response's own headers. */
export const MIN_COMPRESSED_BYTES = 1024;

/**
 * The coding to answer with for an Accept-Encoding header: brotli when it is accepted at
 * least as much as gzip, gzip when only it is, null for neither (identity). Follows the
 * q-values and `*`; `q=0` refuses a coding.
 */
export function negotiateEncoding(header: string | undefined): 'br' | 'gzip' | null {
  if (!header) {
    return null;
  }
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name !== '') {
      weights.set(name, Number.isFinite(weight) ? weight : 0);
    }
  }
  const weightOf = (coding: string) => weights.get(coding) ?? weights.get('*') ?? 0;
  const br = weightOf('br');
  const gz = weightOf('gzip');
  if (br <= 0 && gz <= 0) {
    return null;
  }
  return br >= gz ? 'br' : 'gzip';
}

/**
 * Compresses JSON answers (API results and problem+json) of 1 KiB and more with brotli
 * or gzip when the client accepts it: a page of the pending report is 20 KB of JSON and
 * 2.5 KB compressed, a phone on a slow network waits for it before it shows anything.
 *
 * Deliberately narrow, which is why it is not @fastify/compress (that one also
 * compresses every compressible stream, CSV exports included):
 * - streams pass untouched: exports (CSV from COPY, XLSX), PDFs and the dashboard's
 *   files keep their own backpressure and pacing, and are never buffered here;
 *   the dashboard's files come precompressed (src/plugins/web.ts);
 * - the live WebSocket is an upgrade, not a reply, and never reaches this hook;
 *   there is no text/event-stream;
 * - brotli at quality 4 (fast, about gzip's cost for a smaller result), off the event
 *   loop (zlib's thread pool).
 *
 * Registered before the modules, so its onSend runs before any a module may add: such a
 * hook would see compressed bytes, so one that reads JSON bodies belongs before this plugin.
 */
export default fp(
  (app: FastifyInstance) => {
    app.addHook('onSend', async (request, reply, payload) => {
      if ((typeof payload !== 'string' && !Buffer.isBuffer(payload)) || reply.hasHeader('content-encoding')) {
        return payload;
      }
      if (reply.statusCode < 200 || reply.statusCode === 204 || reply.statusCode === 304 || !JSON_TYPE.test(String(reply.getHeader('content-type') ?? ''))) {
        return payload;
      }
      const size = Buffer.byteLength(payload);
      if (size < MIN_COMPRESSED_BYTES) {
        return payload;
      }
      const vary = String(reply.getHeader('vary') ?? '');
      if (!/(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i.test(vary)) {
        reply.header('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
      }
      const encoding = negotiateEncoding(request.headers['accept-encoding']);
      if (encoding === null) {
        return payload;
      }
      const body =
        encoding === 'br'
          ? await brotliAsync(payload, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: size } })
          : await gzipAsync(payload, { level: 6 });
      reply.header('content-encoding', encoding);
      reply.removeHeader('content-length');
      return body;
    });
  },
  { name: 'bursar-compression', fastify: '5.x' },
);
