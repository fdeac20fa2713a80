/**
 * What no input may carry, whatever its schema says: the edge refuses it before it can
 * reach PostgreSQL (which rejects a NUL byte in text and jsonb, and lone UTF-16
 * surrogates once they are encoded as UTF-8) or a computation that assumes a finite
 * number. Used by the request validator (src/plugins/validation.ts) on every body,
 * querystring, path and header object, and by the cursor decoder.
 */

/** A NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one. */
// eslint-disable-next-line no-control-regex -- the NUL character is exactly what this looks for
const UNSAFE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when the string can be stored as PostgreSQL text: no NUL byte, no lone surrogate. */
export function isStorableText(value: string): boolean {
  return !UNSAFE_TEXT.test(value);
}

/** Why a string is not storable, in words a client can act on. */
export function unsafeTextReason(value: string): string {
  return value.includes('\u0000') ? 'must not contain a NUL character (\\u0000)' : 'must not contain a lone UTF-16 surrogate (invalid Unicode)';
}

/** A key as it can be shown in a field path: unsafe characters escaped as \uXXXX. */
export function printableKey(key: string): string {
  // eslint-disable-next-line no-control-regex -- the NUL character is exactly what this escapes
  return key.replace(/[\u0000\ud800-\udfff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface InputIssue {
  /** JSON pointer of the offending value (Ajv's instancePath), e.g. `/items/0/reference`. */
  instancePath: string;
  keyword: 'storableText' | 'finiteNumber';
  message: string;
}

interface Node {
  value: unknown;
  key: string | null;
  parent: Node | null;
}

/** The JSON pointer of a node, built only for the few nodes that are reported. */
function pointerOf(node: Node, key?: string): string {
  const segments: string[] = key === undefined ? [] : [key];
  for (let at: Node | null = node; at !== null && at.key !== null; at = at.parent) {
    segments.push(at.key);
  }
  return segments
    .reverse()
    .map((s) => `/${s.replaceAll('~', '~0').replaceAll('/', '~1')}`)
    .join('');
}

/**
 * Every string (object keys included) that is not storable text and, when
 * `finiteNumbers`, every number that is NaN or ±Infinity (a querystring `1e400` parses
 * to Infinity and passes a schema's `type: integer`). Iterative with parent links, so a
 * deeply nested body costs linear time and cannot overflow the stack; at most `max`
 * issues.
 */
export function inputIssues(value: unknown, options: { finiteNumbers: boolean; max?: number }): InputIssue[] {
  const max = options.max ?? 20;
  const issues: InputIssue[] = [];
  const stack: Node[] = [{ value, key: null, parent: null }];
  while (stack.length > 0 && issues.length < max) {
    const node = stack.pop() as Node;
    const current = node.value;
    if (typeof current === 'string') {
      if (!isStorableText(current)) {
        issues.push({ instancePath: pointerOf(node), keyword: 'storableText', message: unsafeTextReason(current) });
      }
    } else if (typeof current === 'number') {
      if (options.finiteNumbers && !Number.isFinite(current)) {
        issues.push({ instancePath: pointerOf(node), keyword: 'finiteNumber', message: 'must be a finite number' });
      }
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) {
        stack.push({ value: current[i], key: String(i), parent: node });
      }
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] as [string, unknown];
        if (isStorableText(key)) {
          stack.push({ value: item, key, parent: node });
        } else {
          issues.push({ instancePath: pointerOf(node, printableKey(key)), keyword: 'storableText', message: `is not a valid field name: it ${unsafeTextReason(key)}` });
        }
      }
    }
  }
  return issues;
}
