/**
 * The table of a printed document (pdfkit), shared by every PDF that lists rows:
 * statements, family statements and receipts. A table is a row of columns of fixed
 * widths starting at `left`, GAP apart; a row is as tall as its tallest cell. A cell
 * that fits its column is drawn on one line (skipping pdfkit's line wrapper, most of the
 * cost on long statements) and right-aligned in money columns; a longer one wraps
 * within its column (names, descriptions, a long title), or, with `overflow: 'ellipsis'`,
 * is shortened with … (a one-page receipt that must never grow). Nothing is ever drawn
 * past its column: the callers size money columns to their widest amount, so amounts
 * are never wrapped nor cut.
 */

export const TABLE_FONT = 'Helvetica';
export const TABLE_BOLD = 'Helvetica-Bold';
/** Space between two columns. */
export const TABLE_GAP = 6;
/** Space above and below a row's text. */
export const TABLE_ROW_PADDING = 3;
/** The shade of every other row. */
const SHADE = '#f2f2f2';

export interface TableColumn {
  title: string;
  width: number;
  align: 'left' | 'right';
  /** What a cell wider than its column does: wrap onto more lines (default) or end in … on one line. */
  overflow?: 'wrap' | 'ellipsis';
}

export interface PdfTableOptions {
  left: number;
  columns: readonly TableColumn[];
  /** Font size of the rows (and of the header row, in bold). */
  fontSize: number;
  /** Space between two columns (default TABLE_GAP). */
  gap?: number;
  /** Row height for every row instead of the tallest cell (only with ellipsis columns: nothing wraps). */
  fixedRowHeight?: number;
}

export interface PdfTable {
  readonly left: number;
  readonly right: number;
  readonly width: number;
  /** The left edge of column `index`. */
  xOf: (index: number) => number;
  /** Height of a row of cells in the current font: the tallest cell, plus padding (or the fixed height). */
  rowHeight: (cells: readonly string[]) => number;
  /** Draws a row at doc.y in the current font (shaded if asked) and moves doc.y below it. */
  drawRow: (cells: readonly string[], height: number, shade: boolean) => void;
  /** The header row: the titles in bold, a rule under them; the font is back to regular after it. */
  header: () => void;
}

/** `text` on one line within `width`, shortened with … if it must be. */
export function fitText(doc: PDFKit.PDFDocument, text: string, width: number): string {
  if (doc.widthOfString(text) <= width) {
    return text;
  }
  let cut = text;
  while (cut.length > 0 && doc.widthOfString(`${cut}…`) > width) {
    cut = cut.slice(0, -1);
  }
  return `${cut.trimEnd()}…`;
}

export function createPdfTable(doc: PDFKit.PDFDocument, options: PdfTableOptions): PdfTable {
  const { left, columns, fontSize } = options;
  const gap = options.gap ?? TABLE_GAP;
  const width = columns.reduce((sum, column) => sum + column.width, 0) + gap * Math.max(0, columns.length - 1);
  const right = left + width;
  const starts: number[] = [];
  columns.reduce((x, column) => {
    starts.push(x);
    return x + column.width + gap;
  }, left);

  const wraps = (column: TableColumn) => (column.overflow ?? 'wrap') === 'wrap';

  const rowHeight = (cells: readonly string[]) => {
    if (options.fixedRowHeight !== undefined) {
      return options.fixedRowHeight;
    }
    let height = doc.currentLineHeight(true);
    cells.forEach((text, index) => {
      const column = columns[index];
      if (column !== undefined && wraps(column) && doc.widthOfString(text) > column.width) {
        height = Math.max(height, doc.heightOfString(text, { width: column.width }));
      }
    });
    return height + 2 * TABLE_ROW_PADDING;
  };

  const drawRow = (cells: readonly string[], height: number, shade: boolean) => {
    const y = doc.y;
    if (shade) {
      doc.rect(left, y, width, height).fill(SHADE).fillColor('black');
    }
    cells.forEach((cell, index) => {
      const column = columns[index];
      const x = starts[index];
      if (column === undefined || x === undefined || cell === '') {
        return;
      }
      const text = wraps(column) ? cell : fitText(doc, cell, column.width);
      const textWidth = doc.widthOfString(text);
      if (textWidth <= column.width) {
        doc.text(text, column.align === 'right' ? x + column.width - textWidth : x, y + TABLE_ROW_PADDING, { lineBreak: false });
      } else {
        doc.text(text, x, y + TABLE_ROW_PADDING, { width: column.width, align: column.align });
      }
    });
    doc.y = y + height;
  };

  return {
    left,
    right,
    width,
    xOf: (index) => starts[index] ?? left,
    rowHeight,
    drawRow,
    header: () => {
      doc.font(TABLE_BOLD).fontSize(fontSize);
      const titles = columns.map((column) => column.title);
      drawRow(titles, rowHeight(titles), false);
      doc.moveTo(left, doc.y).lineTo(right, doc.y).lineWidth(0.5).stroke();
      doc.y += 2;
      doc.font(TABLE_FONT).fontSize(fontSize);
    },
  };
}

/**
 * A one-page document (a receipt, an invoice) drawn at once: resolves with the whole PDF;
 * an error while drawing rejects it (and ends the document's stream) instead of throwing.
 */
export function onePagePdf(doc: PDFKit.PDFDocument, draw: () => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  try {
    draw();
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    doc.destroy(failure);
    return Promise.reject(failure);
  }
  doc.end();
  return done;
}
