/**
 * One naming scheme for every file Bursar hands to a person, server-side
 * (Content-Disposition of exports and statements) and client-side (the dashboard's own
 * CSV, which imports this file: keep it free of imports and of Node APIs):
 *
 *   bursar-<what>-<school or scope>-<YYYY-MM-DD>.<ext>
 *   bursar-pending-payments-colegio-alfa-2026-12-02.xlsx
 *   bursar-statement-colegio-alfa-ana-alvarez-2026-12-02.pdf
 *   bursar-live-events-all-schools-2026-12-02.csv
 *
 * The date is the day the file was made, in the zone of the document (the school's for
 * one school; UTC across schools; the viewer's for a file the browser makes).
 *
 * Two spellings: `filename` is an ASCII slug (accents folded, anything else a hyphen),
 * safe for every client and file system; `filename*` (RFC 6266 / RFC 8187, UTF-8) keeps
 * letters of any script ("colegio-san-josé"). Neither can hold a path separator, a quote
 * or a control character.
 */

const MAX_PART_LENGTH = 48;

/** Letters and digits of `text` (folded to ASCII when `ascii`), lower case, joined by single hyphens, at most `max` characters. */
function slugOf(text: string, ascii: boolean, max: number): string {
  const folded = ascii ? text.normalize('NFKD').replace(/\p{M}/gu, '') : text.normalize('NFC');
  const pattern = ascii ? /[^a-z0-9]+/g : /[^\p{L}\p{N}]+/gu;
  const slug = folded.toLowerCase().replace(pattern, '-').replace(/^-+|-+$/g, '');
  const chars = [...slug];
  if (chars.length <= max) {
    return slug;
  }
  // Cut at the last whole word that fits ("…-de-la", not "…-de-la-mo").
  const cut = chars.slice(0, max).join('');
  const lastHyphen = cut.lastIndexOf('-');
  return chars[max] === '-' || lastHyphen <= 0 ? cut.replace(/-+$/, '') : cut.slice(0, lastHyphen);
}

/** "Colegio San José #2" → "colegio-san-jose-2" ('' when nothing ASCII is left, e.g. "李小龙"). */
export function asciiSlug(text: string, max = MAX_PART_LENGTH): string {
  return slugOf(text, true, max);
}

/** "Colegio San José #2" → "colegio-san-josé-2": letters of any script kept. */
export function unicodeSlug(text: string, max = MAX_PART_LENGTH): string {
  return slugOf(text, false, max);
}

export interface DownloadName {
  /** ASCII only: for `filename=` and any client that ignores `filename*`. */
  ascii: string;
  /** UTF-8: for `filename*=` and for names the browser gives a file itself. */
  utf8: string;
}

export interface DownloadParts {
  /** What the file holds: "pending-payments", "statement", "live-events", "student-balances"… */
  what: string;
  /** Whose data: school name(s), student name, "all-schools"; parts with no letters or digits are left out. */
  scope?: readonly (string | null | undefined)[];
  /** The day it was made, YYYY-MM-DD. */
  date: string;
  /** Extension without the dot. */
  ext: string;
  /** Used in the ASCII name for a scope part that has nothing ASCII (a name in another script), e.g. a short id. */
  asciiFallback?: string;
}

/** The file's name in the one scheme, in both spellings. */
export function downloadName(parts: DownloadParts): DownloadName {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(parts.date) ? parts.date : '';
  const ext = asciiSlug(parts.ext, 8) || 'bin';
  const scope = (parts.scope ?? []).filter((part): part is string => typeof part === 'string');
  const build = (slug: (text: string) => string, fallback: string | undefined) => {
    const scopeParts = scope.map(slug).filter((part) => part !== '');
    if (scopeParts.length < scope.length && fallback !== undefined && slug(fallback) !== '') {
      scopeParts.push(slug(fallback));
    }
    return `${['bursar', slug(parts.what), ...scopeParts, date].filter((part) => part !== '').join('-')}.${ext}`;
  };
  return { ascii: build((text) => asciiSlug(text), parts.asciiFallback), utf8: build((text) => unicodeSlug(text), undefined) };
}

/** RFC 8187 ext-value characters that need no percent-encoding (attr-char). */
const ATTR_CHAR = /[A-Za-z0-9!#$&+.^_`|~-]/;

function encodeExtValue(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `attachment; filename="<ascii>"; filename*=UTF-8''<utf8>` (RFC 6266 §4.3: both, the extended one preferred by clients). */
export function contentDisposition(name: DownloadName, disposition: 'attachment' | 'inline' = 'attachment'): string {
  const ascii = name.ascii.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeExtValue(name.utf8)}`;
}
