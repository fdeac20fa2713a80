import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readPdf, type PdfPage, type TextItem } from '../helpers/pdf.js';

/**
 * Reading a receipt back as a person would (pdf.js text with positions, as
 * test/billing/statements-print.test.ts does), and rendering it to PNG in
 * test-artifacts/receipts/ when pdftoppm is installed, to be looked at.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'receipts');
const run = promisify(execFile);

export { readPdf, type PdfPage, type TextItem };

/**
 * The text items that are not inside the page's 40-point margins (1 point of slack): left
 * and right edges, the baseline above the bottom margin, and the top of the letters
 * (Helvetica's ascender, 718/1000 of the size) below the top margin.
 */
export function outsideMargins(page: PdfPage): string[] {
  const inside = (item: TextItem) =>
    item.x >= 39 && item.x + item.width <= page.width - 39 && item.y >= 39 && item.y + 0.718 * item.height <= page.height - 39;
  return page.items
    .filter((item) => !inside(item))
    .map((item) => `"${item.str}" at ${item.x.toFixed(1)},${item.y.toFixed(1)} w ${item.width.toFixed(1)}`);
}

/** Writes the PDF and its first page as PNG to test-artifacts/receipts/<name>; the PNG's path, or null without pdftoppm. */
export async function renderPng(pdf: Buffer, name: string): Promise<string | null> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.pdf`);
  await writeFile(file, pdf);
  const pdftoppm = ['/usr/bin/pdftoppm', '/usr/local/bin/pdftoppm'].find((candidate) => existsSync(candidate));
  if (pdftoppm === undefined) {
    return null;
  }
  await run(pdftoppm, ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', file, path.join(ARTIFACTS, name)]);
  return path.join(ARTIFACTS, `${name}.png`);
}
