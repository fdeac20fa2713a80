import i18next from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import { LANGUAGE_OPTIONS, withSpanishMany } from '../../lib/i18n.js';
import { PORTAL_STRINGS } from './strings.js';

/**
 * The portal's languages (SPEC §8): Spanish and English, chosen as the dashboard's are
 * (lib/i18n.ts LANGUAGE_OPTIONS): `?lang=`, then the choice remembered in this browser
 * (localStorage `bursar.lang`), then the browser's own language; Spanish when none says.
 */
export const LANGUAGES = ['es', 'en'] as const;
export type PortalLanguage = (typeof LANGUAGES)[number];

export const portalI18n = i18next.createInstance();
void portalI18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({ ...LANGUAGE_OPTIONS, supportedLngs: [...LANGUAGES], resources: withSpanishMany(PORTAL_STRINGS), defaultNS: 'portal', ns: ['portal'] });

export const currentLanguage = (): PortalLanguage => (portalI18n.resolvedLanguage === 'en' ? 'en' : 'es');

const COUNTRY: Record<string, string> = { MXN: 'MX', COP: 'CO', USD: 'US' };

/** The locale money and dates are written in: the language, in the school's country (es-MX, es-CO, en-US). */
export const localeOf = (language: PortalLanguage, currency: string) => `${language}-${COUNTRY[currency] ?? (language === 'es' ? 'MX' : 'US')}`;
