import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { asciiSlug, contentDisposition, downloadName, unicodeSlug } from '../../src/shared/filenames.js';

test('one scheme: bursar-<what>-<scope>-<date>.<ext>, ASCII and UTF-8 spellings', () => {
  assert.deepEqual(downloadName({ what: 'pending-payments', scope: ['Colegio Alfa'], date: '2026-12-02', ext: 'csv' }), {
    ascii: 'bursar-pending-payments-colegio-alfa-2026-12-02.csv',
    utf8: 'bursar-pending-payments-colegio-alfa-2026-12-02.csv',
  });
  assert.deepEqual(downloadName({ what: 'statement', scope: ['Colegio San José', 'Ana Núñez'], date: '2026-12-02', ext: 'pdf' }), {
    ascii: 'bursar-statement-colegio-san-jose-ana-nunez-2026-12-02.pdf',
    utf8: 'bursar-statement-colegio-san-josé-ana-núñez-2026-12-02.pdf',
  });
  assert.deepEqual(downloadName({ what: 'statement', scope: ['李小龙学校', null], asciiFallback: '0190abcd', date: '2026-12-02', ext: 'pdf' }), {
    ascii: 'bursar-statement-0190abcd-2026-12-02.pdf',
    utf8: 'bursar-statement-李小龙学校-2026-12-02.pdf',
  });
  assert.equal(asciiSlug('../../etc/passwd"; rm -rf'), 'etc-passwd-rm-rf');
  assert.equal(asciiSlug('Colegio Internacional Bilingüe San José de la Montaña', 30), 'colegio-internacional-bilingue', 'cut at a whole word');
  assert.equal(unicodeSlug('  Ñandú  #3 '), 'ñandú-3');
});

test('Content-Disposition: RFC 6266 filename and RFC 8187 filename*', () => {
  const name = downloadName({ what: 'statement', scope: ['Escuela Ñuñoa'], date: '2026-12-02', ext: 'pdf' });
  assert.equal(
    contentDisposition(name),
    `attachment; filename="bursar-statement-escuela-nunoa-2026-12-02.pdf"; filename*=UTF-8''bursar-statement-escuela-%C3%B1u%C3%B1oa-2026-12-02.pdf`,
  );
  // Whatever the names, the header is one safe line and decodes back to the UTF-8 name.
  fc.assert(
    fc.property(fc.string(), fc.string(), (school, student) => {
      const parts = downloadName({ what: 'statement', scope: [school, student], date: '2026-12-02', ext: 'pdf' });
      const header = contentDisposition(parts);
      assert.match(header, /^attachment; filename="bursar-[a-z0-9-]*2026-12-02\.pdf"; filename\*=UTF-8''[A-Za-z0-9!#$&+.^_`|~%-]+$/);
      assert.equal(decodeURIComponent(header.split("UTF-8''")[1] ?? ''), parts.utf8);
      // eslint-disable-next-line no-control-regex -- control characters are what must never be in a file name
      assert.doesNotMatch(parts.utf8, /[/\\"\u0000-\u001f]/);
    }),
  );
});
