/**
 * E-mail addresses are case-insensitive in Bursar: stored trimmed and lower-cased, so
 * `User@Example.COM` and `user@example.com` are one person (migration 0011 normalised
 * the rows already stored and makes the database refuse any other form). The whole
 * address is lower-cased: strictly only the domain is case-insensitive, but no mail
 * provider a school's families use treats the local part otherwise.
 */
export function normaliseEmail(email: string): string;
export function normaliseEmail(email: string | null): string | null;
export function normaliseEmail(email: string | null): string | null {
  if (email === null) {
    return null;
  }
  const normalised = email.trim().toLowerCase();
  return normalised === '' ? null : normalised;
}
