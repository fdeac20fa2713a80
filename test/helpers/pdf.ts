import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

/**
 * Reading a PDF back as a person would: every page's size and its text items with their
 * positions (pdf.js, origin bottom left), and its text one line per baseline. The print
 * tests of statements, family statements and receipts assert on it.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const STANDARD_FONTS = `${path.join(ROOT, 'node_modules', 'pdfjs-dist', 'standard_fonts')}/`;

export interface TextItem {
  str: string;
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PdfPage {
  width: number;
  height: number;
  items: TextItem[];
  /** The page's text, one line per baseline, items left to right, joined by a space. */
  lines: string[];
}

export async function readPdf(pdf: Buffer): Promise<PdfPage[]> {
  const document = await getDocument({ data: new Uint8Array(pdf), standardFontDataUrl: STANDARD_FONTS, verbosity: 0 }).promise;
  const pages: PdfPage[] = [];
  for (let n = 1; n <= document.numPages; n++) {
    const page = await document.getPage(n);
    const [x0 = 0, y0 = 0, x1 = 0, y1 = 0] = page.view;
    const content = await page.getTextContent();
    const items: TextItem[] = [];
    for (const item of content.items) {
      if ('str' in item && item.str.trim() !== '') {
        const transform = item.transform as number[];
        items.push({ str: item.str, x: transform[4] ?? 0, y: transform[5] ?? 0, width: item.width, height: item.height });
      }
    }
    const byLine = new Map<number, TextItem[]>();
    for (const item of items) {
      const key = Math.round(item.y);
      byLine.set(key, [...(byLine.get(key) ?? []), item]);
    }
    const lines = [...byLine.entries()]
      .sort(([a], [b]) => b - a)
      .map(([, line]) => line.sort((a, b) => a.x - b.x).map((item) => item.str.trim()).join(' '));
    pages.push({ width: x1 - x0, height: y1 - y0, items, lines });
  }
  await document.destroy();
  return pages;
}
