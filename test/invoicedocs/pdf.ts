import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Renders a PDF's first page to test-artifacts/<folder>/<name>.png when pdftoppm is installed, to be looked at. */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

export async function renderPng(pdf: Buffer, folder: string, name: string): Promise<string | null> {
  const artifacts = path.join(ROOT, 'test-artifacts', folder);
  await mkdir(artifacts, { recursive: true });
  const file = path.join(artifacts, `${name}.pdf`);
  await writeFile(file, pdf);
  const pdftoppm = ['/usr/bin/pdftoppm', '/usr/local/bin/pdftoppm'].find((candidate) => existsSync(candidate));
  if (pdftoppm === undefined) {
    return null;
  }
  await run(pdftoppm, ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', file, path.join(artifacts, name)]);
  return path.join(artifacts, `${name}.png`);
}

/** The pay URLs printed in a document's text: `<base>/pay/<50-character token>`. */
export function payUrlsIn(text: string, base: string): string[] {
  const escaped = base.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return [...text.matchAll(new RegExp(`${escaped}/pay/([A-Za-z0-9_-]{50})`, 'g'))].map((match) => match[0]);
}
