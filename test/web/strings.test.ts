import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { PORTAL_STRINGS } from '../../web/src/features/portal/strings.js';
import { portalI18n } from '../../web/src/features/portal/i18n.js';
import { dashboardI18n } from '../../web/src/lib/i18n.js';
import { DASHBOARD_STRINGS, STRING_FILES } from '../../web/src/lib/strings/index.js';

/**
 * The dashboard's strings (web/src/lib/strings): the same keys in Spanish and English, no
 * empty value, the same {{placeholders}} in both, no group defined by two files, and
 * every key the code asks for with a literal t('…') defined (itself, or its plural forms).
 */
type Tree = { [key: string]: string | Tree };

function leaves(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') {
      out.set(name, value);
    } else {
      for (const [leaf, text] of leaves(value, name)) {
        out.set(leaf, text);
      }
    }
  }
  return out;
}

const placeholders = (text: string) => [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1]).sort();

describe('web: the dashboard strings', () => {
  for (const [file, strings] of Object.entries(STRING_FILES)) {
    test(`${file}: Spanish and English have the same keys, none empty, the same placeholders`, () => {
      const en = leaves(strings.en);
      const es = leaves(strings.es);
      assert.deepEqual([...es.keys()].sort(), [...en.keys()].sort());
      for (const [key, text] of [...en, ...es]) {
        assert.ok(text.trim().length > 0, `${file}: ${key} is empty`);
      }
      for (const [key, text] of en) {
        assert.deepEqual(placeholders(es.get(key) ?? ''), placeholders(text), `${file}: ${key} has other placeholders in Spanish`);
      }
    });
  }

  test('every plural has words for every count in both languages, a million in Spanish (CLDR "many") included', () => {
    const instances = [
      { i18n: dashboardI18n, ns: 'dashboard', en: DASHBOARD_STRINGS.en.dashboard as Tree },
      { i18n: portalI18n, ns: 'portal', en: PORTAL_STRINGS.en.portal as Tree },
    ];
    let checked = 0;
    for (const { i18n, ns, en } of instances) {
      const plurals = [...leaves(en).keys()].flatMap((key) => (/_other$/.test(key) && !key.includes('_ordinal_') ? [key.replace(/_other$/, '')] : []));
      for (const language of ['es', 'en']) {
        const t = i18n.getFixedT(language, ns);
        for (const key of plurals) {
          for (const count of [0, 1, 2, 1_000_000]) {
            const text = t(key, { count, defaultValue: '' });
            assert.ok(text !== '' && !text.includes(key), `${ns} ${language}: ${key} with count ${count} has no words`);
            checked += 1;
          }
        }
      }
    }
    assert.ok(checked > 100, `only ${checked} plural forms checked`);
  });

  test('no top-level group is defined by two files', () => {
    const seen = new Map<string, string>();
    for (const [file, strings] of Object.entries(STRING_FILES)) {
      for (const group of Object.keys(strings.en)) {
        assert.equal(seen.get(group), undefined, `${group} is in ${seen.get(group)} and ${file}`);
        seen.set(group, file);
      }
    }
  });

  test('every literal key the dashboard code uses exists', () => {
    const web = path.resolve(import.meta.dirname, '../../web/src');
    const en = leaves(DASHBOARD_STRINGS.en.dashboard);
    const groups = new Set([...en.keys()].map((key) => key.split('.').slice(0, -1).join('.')));
    // A key with count (t('live.refunds', { count })) is defined by its plural forms: live.refunds_one, live.refunds_other, lateFees.fromDay_ordinal_one…
    const plurals = new Set([...en.keys()].flatMap((key) => /_(?:ordinal_)?(?:zero|one|two|few|many|other)$/.test(key) ? [key.replace(/_(?:ordinal_)?(?:zero|one|two|few|many|other)$/, '')] : []));
    const missing: string[] = [];
    for (const entry of readdirSync(web, { recursive: true, withFileTypes: true })) {
      const file = path.join(entry.parentPath, entry.name);
      if (!entry.isFile() || !/\.tsx?$/.test(entry.name) || file.includes(`${path.sep}portal${path.sep}`)) {
        continue;
      }
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/\b(?:t|translate)\(\s*'([\w.]+)'/g)) {
        if (!en.has(match[1] ?? '') && !plurals.has(match[1] ?? '')) {
          missing.push(`${path.relative(web, file)}: ${match[1]}`);
        }
      }
      // A key built at run time (t(`nav.${item.label}`)) needs its group to exist.
      for (const match of source.matchAll(/\b(?:t|translate)\(\s*`([\w.]+)\.\$\{/g)) {
        if (!groups.has(match[1] ?? '')) {
          missing.push(`${path.relative(web, file)}: ${match[1]}.*`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });
});
