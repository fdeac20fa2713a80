/**
 * The offered media type an Accept header prefers (RFC 9110 §12.5.1): each offer gets
 * the q of the most specific range that matches it; the highest q wins, ties in the
 * order of `offers`. No (or an empty) Accept → `fallback`. Undefined when nothing
 * offered is acceptable.
 */
export function negotiateMediaType<T extends string>(accept: string | undefined, offers: readonly T[], fallback: T): T | undefined {
  if (accept === undefined || accept.trim() === '') {
    return fallback;
  }
  const ranges = accept
    .split(',')
    .map((part) => {
      const [range = '', ...params] = part.split(';').map((piece) => piece.trim());
      const q = params.map((param) => /^q=([0-9.]+)$/i.exec(param)).find((match) => match !== null);
      const quality = q ? Number(q[1]) : 1;
      const [type = '', subtype = ''] = range.toLowerCase().split('/');
      return { type, subtype, quality: Number.isFinite(quality) ? Math.min(Math.max(quality, 0), 1) : 0 };
    })
    .filter((range) => range.type !== '' && range.subtype !== '');

  let best: { media: T; quality: number } | undefined;
  for (const media of offers) {
    const [type, subtype] = media.split('/');
    let specificity = -1;
    let quality = 0;
    for (const range of ranges) {
      const matches = (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype);
      const rangeSpecificity = (range.type === '*' ? 0 : 1) + (range.subtype === '*' ? 0 : 1);
      if (matches && rangeSpecificity > specificity) {
        specificity = rangeSpecificity;
        quality = range.quality;
      }
    }
    if (quality > 0 && (best === undefined || quality > best.quality)) {
      best = { media, quality };
    }
  }
  return best?.media;
}
