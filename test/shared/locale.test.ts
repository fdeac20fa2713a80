import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatLocalTimestamp,
  languageFromAcceptLanguage,
  localDate,
  localDateTime,
  requestLanguage,
  resolveLanguage,
  utcOffsetIn,
  wallClockIn,
} from '../../src/shared/locale.js';

test('the reader’s language: ?lang, else Accept-Language by q, else English', () => {
  assert.equal(resolveLanguage('es', 'en-US'), 'es');
  assert.equal(resolveLanguage('en', 'es-MX'), 'en');
  assert.equal(resolveLanguage(undefined, 'es-MX,es;q=0.9,en;q=0.8'), 'es');
  assert.equal(resolveLanguage(undefined, 'fr-FR, en;q=0.5, es;q=0.7'), 'es', 'highest q among the supported ones');
  assert.equal(resolveLanguage(undefined, 'fr, de'), 'en', 'none supported: English');
  assert.equal(resolveLanguage(undefined, 'es;q=0, en;q=0.1'), 'en', 'q=0 means not acceptable');
  assert.equal(resolveLanguage(undefined, undefined), 'en');
  assert.equal(resolveLanguage('fr', 'es'), 'es', 'an unsupported lang falls through to the header');
  assert.equal(languageFromAcceptLanguage('*'), 'en');
  assert.equal(languageFromAcceptLanguage('ES-co'), 'es');
  assert.equal(languageFromAcceptLanguage('garbage;;;q=x'), undefined);
  assert.equal(requestLanguage({ query: { lang: 'es' }, headers: {} }), 'es');
  assert.equal(requestLanguage({ query: {}, headers: { 'accept-language': 'es-CO' } }), 'es');
  assert.equal(requestLanguage({ query: undefined, headers: {} }), 'en');
});

test('times a person reads are in the school’s zone, with the zone named', () => {
  const at = new Date('2026-12-02T18:45:46.865Z');
  assert.equal(formatLocalTimestamp(at, 'America/Mexico_City'), '2026-12-02 12:45 America/Mexico_City (UTC-06:00)');
  assert.equal(formatLocalTimestamp(at, 'America/Bogota'), '2026-12-02 13:45 America/Bogota (UTC-05:00)');
  assert.equal(formatLocalTimestamp(at, 'Asia/Kolkata'), '2026-12-03 00:15 Asia/Kolkata (UTC+05:30)');
  assert.equal(formatLocalTimestamp(at, 'UTC'), '2026-12-02 18:45 UTC');
  assert.equal(utcOffsetIn(new Date('2026-07-01T12:00:00Z'), 'America/New_York'), 'UTC-04:00', 'summer time');
  assert.equal(localDateTime(at, 'Pacific/Kiritimati'), '2026-12-03 08:45');
  assert.equal(localDate(at, 'Asia/Kolkata'), '2026-12-03');
  assert.equal(wallClockIn(at, 'America/Mexico_City').toISOString(), '2026-12-02T12:45:46.865Z');
});
