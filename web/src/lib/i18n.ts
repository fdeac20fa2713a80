import i18next, { type InitOptions } from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next, useTranslation } from 'react-i18next';
import { DASHBOARD_STRINGS } from './strings/index.js';

/**
 * The dashboard's languages: Spanish and English, chosen like the family portal's
 * (features/portal/i18n.ts) — `?lang=`, then the choice remembered in this browser
 * (localStorage `bursar.lang`, the portal's key, so one choice serves both), then the
 * browser's language; Spanish when none of them says. Synchronous init: the strings are
 * bundled, so the first render is already in the right language.
 */
export const LANGUAGES = ['es', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

/** How the dashboard and the portal choose and remember the language (one choice serves both). */
export const LANGUAGE_OPTIONS = {
  fallbackLng: 'es',
  supportedLngs: [...LANGUAGES],
  nonExplicitSupportedLngs: true,
  load: 'languageOnly',
  detection: { order: ['querystring', 'localStorage', 'navigator'], lookupQuerystring: 'lang', lookupLocalStorage: 'bursar.lang', caches: ['localStorage'] },
  interpolation: { escapeValue: false },
  initAsync: false,
} as const satisfies InitOptions;

type Strings = { [key: string]: string | Strings };

/** A copy of `strings` where every plural `x_other` also answers as `x_many` when it has none. */
function manyAsOther(strings: Strings): Strings {
  const copy: Strings = {};
  for (const [key, value] of Object.entries(strings)) {
    copy[key] = typeof value === 'string' ? value : manyAsOther(value);
    const plural = /^(.*)_other$/.exec(key);
    if (plural && typeof value === 'string' && strings[`${plural[1]}_many`] === undefined) {
      copy[`${plural[1]}_many`] = value;
    }
  }
  return copy;
}

/**
 * The resources with Spanish's third plural form filled in: CLDR counts a million and
 * more as `many` in Spanish ("1 000 000 de familias"), and i18next, finding no `_many`
 * string, would show the bare key ("families.noun") instead of falling back to `_other`.
 * The words are the `_other` ones; a string file may still write its own `_many`.
 */
export function withSpanishMany<R extends { es: Strings }>(resources: R): R {
  return { ...resources, es: manyAsOther(resources.es) };
}

export const dashboardI18n = i18next.createInstance();
void dashboardI18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({ ...LANGUAGE_OPTIONS, supportedLngs: [...LANGUAGES], resources: withSpanishMany(DASHBOARD_STRINGS), defaultNS: 'dashboard', ns: ['dashboard'] });

export const currentLanguage = (): Language => (dashboardI18n.resolvedLanguage === 'en' ? 'en' : 'es');

/** `t` outside React (formatters, error descriptions): the current language at call time. */
export const translate = dashboardI18n.t.bind(dashboardI18n);

/** The dashboard's `t`; the component re-renders when the language changes. */
export function useT() {
  return useTranslation('dashboard', { i18n: dashboardI18n });
}

/** The language the dashboard is in now, for components that must re-render with it. */
export function useLanguage(): Language {
  return useT().i18n.resolvedLanguage === 'en' ? 'en' : 'es';
}

const COUNTRY: Record<string, string> = { MXN: 'MX', COP: 'CO', USD: 'US' };

/**
 * The locale money is written in. Spanish as the portal writes it, in the currency's
 * country ("$4,500.00" in es-MX, "$ 31.450.000,00" in es-CO). English in en-US for every
 * currency: the dashboard lists several currencies side by side, and en-US names the
 * foreign ones ("MX$4,500.00", "COP 31,450,000.00") where en-MX and en-CO would both
 * write a bare "$".
 */
export function moneyLocale(currency: string, language: Language = currentLanguage()): string {
  return language === 'en' ? 'en-US' : `es-${COUNTRY[currency] ?? 'MX'}`;
}

/** The locale of counts, dates and times: en-GB ("3 Dec 2026", a 24-hour clock) or es-MX ("3 dic 2026"). */
export function textLocale(language: Language = currentLanguage()): string {
  return language === 'en' ? 'en-GB' : 'es-MX';
}
