import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/** A tiny client over app.inject for one caller. */
export function client(app: FastifyInstance, token: string | null) {
  const send = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = {}) =>
    app.inject({
      method,
      url: `/api/v1${url}`,
      payload,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
  return {
    get: (url: string, headers?: Record<string, string>) => send('GET', url, undefined, headers),
    post: (url: string, payload: object, headers?: Record<string, string>) => send('POST', url, payload, headers),
    put: (url: string, payload: object) => send('PUT', url, payload),
    patch: (url: string, payload: object) => send('PATCH', url, payload),
    delete: (url: string) => send('DELETE', url),
    /** A money-moving POST with a fresh (or given) Idempotency-Key. */
    pay: (payload: object, key: string = randomUUID()) => send('POST', '/payments', payload, { 'idempotency-key': key }),
    refund: (paymentId: string, payload: object, key: string = randomUUID()) =>
      send('POST', `/payments/${paymentId}/refunds`, payload, { 'idempotency-key': key }),
  };
}

export type Client = ReturnType<typeof client>;

export function json<T>(response: LightMyRequestResponse): T {
  return response.json<T>();
}
