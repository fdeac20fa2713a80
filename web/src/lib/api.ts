/**
 * The one HTTP client of the dashboard: bearer token, transparent refresh (rotation:
 * one refresh at a time, shared by concurrent callers), RFC 9457 problems turned into
 * ApiError, and file downloads that need the token (exports, PDF/CSV statements).
 */
import { ApiError, type Problem } from './api-error';

export { ApiError, type Problem };

export const API_BASE = '/api/v1';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

const STORAGE_KEY = 'bursar.session';

type Listener = (tokens: TokenPair | null) => void;
const listeners = new Set<Listener>();

/** Tokens live in sessionStorage: one tab's session, gone when the tab closes. */
let tokens: TokenPair | null = readStored();

function readStored(): TokenPair | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as TokenPair) : null;
  } catch {
    return null;
  }
}

export function getTokens(): TokenPair | null {
  return tokens;
}

export function setTokens(next: TokenPair | null): void {
  tokens = next;
  if (next) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  } else {
    sessionStorage.removeItem(STORAGE_KEY);
  }
  for (const listener of listeners) {
    listener(next);
  }
}

export function onTokensChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Seconds until the access token expires (from its `exp` claim); 0 when unknown. */
function secondsLeft(accessToken: string): number {
  try {
    const payload = accessToken.split('.')[1] ?? '';
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number };
    return json.exp ? json.exp - Date.now() / 1000 : 0;
  } catch {
    return 0;
  }
}

let refreshing: Promise<TokenPair | null> | null = null;

/** Exchanges the refresh token once, however many requests ask at the same time. */
function refresh(): Promise<TokenPair | null> {
  const current = tokens;
  if (!current) {
    return Promise.resolve(null);
  }
  refreshing ??= (async () => {
    try {
      const response = await fetch(`${API_BASE}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
      if (!response.ok) {
        setTokens(null);
        return null;
      }
      const next = (await response.json()) as TokenPair;
      setTokens(next);
      return next;
    } catch {
      return null;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A valid access token (refreshed first when it expires within 30 s), or null. */
export async function freshAccessToken(): Promise<string | null> {
  if (!tokens) {
    return null;
  }
  if (secondsLeft(tokens.accessToken) < 30) {
    return (await refresh())?.accessToken ?? null;
  }
  return tokens.accessToken;
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body = (await response.json()) as Partial<Problem>;
    return { ...body, status: response.status };
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  /** A file sent as it is (a statement upload), instead of a JSON `body`; `headers` name its type. */
  rawBody?: Blob;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Fetches with the bearer token; on a 401 refreshes once and retries. */
async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const attempt = async (token: string | null) =>
    fetch(`${API_BASE}${path}`, {
      method: options.method ?? 'GET',
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...options.headers,
      },
      body: options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : null),
      signal: options.signal ?? null,
    });
  let response = await attempt(await freshAccessToken());
  if (response.status === 401 && tokens) {
    const next = await refresh();
    if (next) {
      response = await attempt(next.accessToken);
    }
  }
  if (!response.ok) {
    throw new ApiError(await problemOf(response));
  }
  return response;
}

export async function apiFetch<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options);
  if (response.status === 204) {
    return undefined as T;
  }
  return (await response.json()) as T;
}

/** Query string from the defined, non-empty values only. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      search.set(key, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Name from Content-Disposition (filename*=UTF-8'' or filename=), else the fallback. */
function filenameOf(response: Response, fallback: string): string {
  const header = response.headers.get('content-disposition') ?? '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) {
    return decodeURIComponent(star[1]);
  }
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain?.[1] ?? fallback;
}

/** Saves a Blob as a file through a temporary link (works for any same-origin data). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Downloads an authenticated file (exports and statements need the bearer token, so a
 * plain <a href> cannot fetch them). The file keeps the name the server gives it
 * (Content-Disposition), so every download is named by the server's one scheme; the
 * fallback only covers an answer without one. Resolves to the name and size saved.
 */
export async function downloadFile(path: string, fallbackName: string, accept?: string): Promise<{ filename: string; bytes: number }> {
  const response = await send(path, accept ? { headers: { accept } } : {});
  const blob = await response.blob();
  const filename = filenameOf(response, fallbackName);
  saveBlob(blob, filename);
  return { filename, bytes: blob.size };
}

/** RFC 4122 v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function uuid(): string {
  if (typeof crypto.randomUUID === 'function' && window.isSecureContext) {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
