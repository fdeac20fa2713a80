import QRCode from 'qrcode';
import type { Db } from '../../db/database.js';
import { localDate, type Language, type Localized } from '../../shared/locale.js';
import { payLinkKey, payUrl, signFamilyPayToken, signPayToken } from '../paylinks/paylinks.tokens.js';

/**
 * The pay link printed on a document (SPEC §7, §8): the invoice PDF carries a link to pay
 * that invoice, the family statement one to pay what the family owes, each as a QR code
 * with its URL printed under it, so a parent can scan it with a phone or type it.
 *
 * A printed link lives longer than one sent by a person (POST /invoices/:id/pay-link,
 * 14 days by default): paper sits on a fridge for weeks. The token names one invoice or
 * one family and nothing else, and its page shows no personal data (paylinks.tokens.ts).
 */
export const PRINTED_PAY_LINK_DAYS = 30;

export interface PrintedPayLink {
  url: string;
  expiresAt: Date;
}

/** Whole seconds, as the token stores them (the printed expiry is the one the link has). */
const expiryFrom = (now: number) => new Date(Math.floor((now + PRINTED_PAY_LINK_DAYS * 86_400_000) / 1000) * 1000);

/** A link to pay one invoice, expiring PRINTED_PAY_LINK_DAYS after `now` (epoch ms, from the clock). */
export async function printedInvoicePayLink(db: Db, publicUrl: string, invoiceId: string, now: number): Promise<PrintedPayLink> {
  const expiresAt = expiryFrom(now);
  return { url: payUrl(publicUrl, signPayToken(await payLinkKey(db), invoiceId, expiresAt)), expiresAt };
}

/** A link to pay what a family owes, expiring PRINTED_PAY_LINK_DAYS after `now`. */
export async function printedFamilyPayLink(db: Db, publicUrl: string, familyId: string, now: number): Promise<PrintedPayLink> {
  const expiresAt = expiryFrom(now);
  return { url: payUrl(publicUrl, signFamilyPayToken(await payLinkKey(db), familyId, expiresAt)), expiresAt };
}

const WORDS = {
  scan: { en: 'Scan to pay online', es: 'Escanee para pagar en línea' },
  open: { en: 'or open this link in a browser:', es: 'o abra este enlace en un navegador:' },
  validUntil: { en: 'Link valid until', es: 'Enlace válido hasta el' },
} as const satisfies Record<string, Localized>;

/** White modules around the code that scanners need (ISO/IEC 18004 asks for 4). */
const QUIET_MODULES = 4;
/** The code's side without its quiet zone, in points: about 32 mm, easy for any phone. */
const CODE_SIZE = 92;
const URL_SIZE = 8;
const MIN_URL_SIZE = 5.5;

/**
 * Draws `text` as a QR code (error correction M) whose dark modules start at `x`, `y`
 * and span `size` points, with the quiet zone around it left blank: vector rectangles,
 * one per horizontal run of dark modules, filled as one path (crisp at any zoom, no
 * seams between modules).
 */
export function drawQrCode(doc: PDFKit.PDFDocument, text: string, x: number, y: number, size: number): { modules: number } {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const count = modules.size;
  const cell = size / count;
  for (let row = 0; row < count; row++) {
    let column = 0;
    while (column < count) {
      if (modules.get(row, column) === 0) {
        column++;
        continue;
      }
      const start = column;
      while (column < count && modules.get(row, column) !== 0) {
        column++;
      }
      doc.rect(x + start * cell, y + row * cell, (column - start) * cell, cell);
    }
  }
  doc.fillColor('black').fill('nonzero');
  return { modules: count };
}

/** The most the band takes: the code, its quiet zone below (the smallest code's is the widest) and the URL, on two lines at worst. */
export const PAY_LINK_BLOCK_HEIGHT = CODE_SIZE + (CODE_SIZE / 21) * QUIET_MODULES + 2 * URL_SIZE + 6;
/** The band's comfortable width (the code and a column of text beside it), and the least it can do with. */
export const PAY_LINK_BLOCK_WIDTH = 310;
export const PAY_LINK_BLOCK_MIN_WIDTH = 240;

/**
 * The pay-link band of a document, `width` wide from `left` at `y` (the code's top
 * edge; its quiet zone reaches QUIET_MODULES modules beyond, into white space the
 * caller leaves): the QR code at the left; beside it "Scan to pay online", the
 * document's own `facts` (what the link pays; they wrap, amounts are never cut) and the
 * link's last day in `timeZone`; under the code, the URL, whole: on one line of the
 * band's width (smaller type if it must be), else broken once before its token.
 * Returns the y below the band.
 */
export function drawPayLinkBlock(
  doc: PDFKit.PDFDocument,
  options: { link: PrintedPayLink; left: number; y: number; width: number; language: Language; timeZone: string; facts: readonly string[] },
): number {
  const { link, left, y, width, language } = options;
  const { modules } = drawQrCode(doc, link.url, left, y, CODE_SIZE);
  const quiet = (CODE_SIZE / modules) * QUIET_MODULES;
  const textLeft = left + CODE_SIZE + quiet;
  const textWidth = width - CODE_SIZE - quiet;
  let ty = y + 2;
  const say = (text: string, font: string, size: number, after: number) => {
    doc.font(font).fontSize(size);
    const height = doc.heightOfString(text, { width: textWidth });
    doc.text(text, textLeft, ty, { width: textWidth });
    ty += height + after;
  };
  doc.fillColor('black');
  say(WORDS.scan[language], 'Helvetica-Bold', 12, 6);
  for (const fact of options.facts) {
    say(fact, 'Helvetica', 10, 3);
  }
  ty += 4;
  doc.fillColor('#555555');
  say(`${WORDS.validUntil[language]} ${localDate(link.expiresAt, options.timeZone)}`, 'Helvetica', 8, 2);
  say(WORDS.open[language], 'Helvetica', 8, 0);

  // The URL under the code and its quiet zone, from the code's left edge.
  let size = URL_SIZE;
  doc.font('Helvetica').fillColor('black');
  while (size > MIN_URL_SIZE && doc.fontSize(size).widthOfString(link.url) > width) {
    size -= 0.5;
  }
  let urlY = y + CODE_SIZE + quiet;
  const cut = link.url.lastIndexOf('/') + 1;
  const parts = doc.widthOfString(link.url) <= width ? [link.url] : [link.url.slice(0, cut), link.url.slice(cut)];
  for (const part of parts) {
    doc.text(part, left, urlY, { lineBreak: false, link: link.url });
    urlY += size + 2;
  }
  doc.fillColor('black');
  return Math.max(urlY + 2, ty);
}
