/**
 * PII masks of SPEC §1, applied wherever a role may not see a field in clear
 * (JSON, exports, live events, assistant answers). Pure functions; the policy table
 * decides who gets them.
 */

/** "Juan Pablo" + "Pérez" → "J. P." — the first letter of the first given name and the surname. */
export function maskName(firstName: string, lastName?: string): string {
  const initial = (part: string | undefined) => {
    const letter = part?.trim().match(/\p{L}|\p{N}/u)?.[0];
    return letter ? `${letter.toUpperCase()}.` : '';
  };
  return [initial(firstName), initial(lastName)].filter(Boolean).join(' ');
}

/** "juan.perez@colegio.mx" → "j***@c***.mx" */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) {
    return '***';
  }
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  const host = dot > 0 ? domain.slice(0, dot) : domain;
  const tld = dot > 0 ? domain.slice(dot) : '';
  return `${firstChar(local)}***@${firstChar(host)}***${tld}`;
}

/** "+52 55 1234 5678" → "***78" */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return `***${digits.slice(-2)}`;
}

/** "TX-2026-000123456" → "***3456" */
export function maskReference(reference: string): string {
  return `***${reference.slice(-4)}`;
}

function firstChar(text: string): string {
  return Array.from(text)[0] ?? '';
}
