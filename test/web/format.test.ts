import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { describeZone, zoneCity, zoneOwner } from '../../web/src/lib/format.js';
import { dashboardI18n } from '../../web/src/lib/i18n.js';

/** How the dashboard names whose clock a list's times are in (web/src/lib/format.ts). */
describe('web: the zone a heading names', () => {
  after(async () => {
    await dashboardI18n.changeLanguage('en');
  });

  test('a school’s city as each language writes it; a city Spanish writes as its id stays so', () => {
    assert.equal(zoneCity('America/Mexico_City', 'en'), 'Mexico City');
    assert.equal(zoneCity('America/Mexico_City', 'es'), 'Ciudad de México');
    assert.equal(zoneCity('America/Bogota', 'es'), 'Bogotá');
    assert.equal(zoneCity('America/Bogota', 'en'), 'Bogota');
    assert.equal(zoneCity('America/New_York', 'es'), 'Nueva York');
    assert.equal(zoneCity('America/Chicago', 'es'), 'Chicago');
    assert.equal(zoneCity('America/Argentina/Buenos_Aires', 'es'), 'Buenos Aires');
    assert.equal(zoneCity('UTC', 'es'), 'UTC');
  });

  test('the heading in the reader’s language: "hora de Bogotá (GMT-5)", "Bogota time (GMT-5)"', async () => {
    await dashboardI18n.changeLanguage('es');
    assert.equal(zoneOwner('America/Mexico_City', 'school'), 'hora de Ciudad de México');
    assert.equal(describeZone('America/Bogota', 'school'), 'hora de Bogotá (GMT-5)');
    assert.equal(zoneOwner('America/Bogota', 'viewer'), 'su zona horaria');
    await dashboardI18n.changeLanguage('en');
    assert.equal(describeZone('America/Bogota', 'school'), 'Bogota time (GMT-5)');
  });
});
