import { createHmac, timingSafeEqual } from 'node:crypto';
import { installationValue } from '../../db/app-meta.js';
import type { DbOrTx } from '../../db/database.js';

/**
 * Pay links (SPEC §8): a signed, expiring, single-purpose token in a URL that opens a
 * no-login page for one invoice, or for what a family owes (the QR code on a family
 * statement). The token is short enough for an SMS:
 *
 *   base64url( purpose (1 byte) ‖ invoice or family id (16 bytes) ‖ expiry, Unix seconds
 *              (4 bytes) ‖ HMAC-SHA256 of the first 21 bytes, truncated to 16 bytes ) = 50 chars
 *
 * The purpose byte is signed, so an invoice token can never be read as a family one. The
 * key is one per installation, in app_meta (migration 0022), so every API and worker
 * process signs and checks alike. A token names one invoice (or family) and nothing else:
 * whoever holds it may see the school, the number (or family reference) and the amount
 * due, and pay it, until it expires.
 */
export const PURPOSE_PAY_INVOICE = 0x01;
export const PURPOSE_PAY_FAMILY = 0x02;
const SIGNED_BYTES = 21;
const MAC_BYTES = 16;
const TOKEN_BYTES = SIGNED_BYTES + MAC_BYTES;

export type PayTokenProblem = 'malformed' | 'bad_signature' | 'expired';

export type PayToken =
  | { kind: 'invoice'; invoiceId: string; expiresAt: Date }
  | { kind: 'family'; familyId: string; expiresAt: Date };

function uuidBytes(id: string): Buffer {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) {
    throw new Error(`not a uuid: ${id}`);
  }
  return Buffer.from(hex, 'hex');
}

function uuidOf(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const mac = (key: Buffer, signed: Buffer) => createHmac('sha256', key).update(signed).digest().subarray(0, MAC_BYTES);

function sign(key: Buffer, purpose: number, id: string, expiresAt: Date): string {
  const signed = Buffer.alloc(SIGNED_BYTES);
  signed.writeUInt8(purpose, 0);
  uuidBytes(id).copy(signed, 1);
  signed.writeUInt32BE(Math.floor(expiresAt.getTime() / 1000), 17);
  return Buffer.concat([signed, mac(key, signed)]).toString('base64url');
}

/** A token to pay one invoice. */
export const signPayToken = (key: Buffer, invoiceId: string, expiresAt: Date) => sign(key, PURPOSE_PAY_INVOICE, invoiceId, expiresAt);
/** A token to pay what a family owes (any amount up to it). */
export const signFamilyPayToken = (key: Buffer, familyId: string, expiresAt: Date) => sign(key, PURPOSE_PAY_FAMILY, familyId, expiresAt);

export function verifyPayToken(key: Buffer, token: string, now: Date): PayToken | PayTokenProblem {
  if (!/^[A-Za-z0-9_-]{50}$/.test(token)) {
    return 'malformed';
  }
  const bytes = Buffer.from(token, 'base64url');
  const purpose = bytes.readUInt8(0);
  if (bytes.length !== TOKEN_BYTES || (purpose !== PURPOSE_PAY_INVOICE && purpose !== PURPOSE_PAY_FAMILY)) {
    return 'malformed';
  }
  const signed = bytes.subarray(0, SIGNED_BYTES);
  if (!timingSafeEqual(mac(key, signed), bytes.subarray(SIGNED_BYTES))) {
    return 'bad_signature';
  }
  const expiresAt = new Date(signed.readUInt32BE(17) * 1000);
  if (expiresAt.getTime() <= now.getTime()) {
    return 'expired';
  }
  const id = uuidOf(signed.subarray(1, 17));
  return purpose === PURPOSE_PAY_FAMILY ? { kind: 'family', familyId: id, expiresAt } : { kind: 'invoice', invoiceId: id, expiresAt };
}

/** The URL a guardian opens: `<PUBLIC_URL>/pay/<token>`. */
export function payUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/pay/${token}`;
}

/** The installation's pay-link key (app_meta 'pay_link_key', migration 0022), read once per database handle. */
export async function payLinkKey(db: DbOrTx): Promise<Buffer> {
  const hex = await installationValue(db, 'pay_link_key');
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error('app_meta pay_link_key is not 32 bytes of hex (migration 0022 writes it)');
  }
  return Buffer.from(hex, 'hex');
}
