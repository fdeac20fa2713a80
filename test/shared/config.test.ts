import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, DEFAULT_SEED_PASSWORD, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  test('defaults: embedded database, port 3000, demo on with the default password flagged', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.database.url, undefined);
    assert.equal(config.dataDir, './.data');
    assert.notEqual(config.embeddedPgPort, 5432);
    assert.equal(config.seed.password, DEFAULT_SEED_PASSWORD);
    assert.equal(config.seed.passwordIsDefault, true);
  });

  test('values are parsed and typed', () => {
    const config = loadConfig({ PORT: '8080', TRUST_PROXY: 'true', SEED_PASSWORD: 'a-good-password', DATABASE_URL: 'postgres://u@h/db', SEED_DEMO: 'off' });
    assert.equal(config.port, 8080);
    assert.equal(config.trustProxy, true);
    assert.equal(config.seed.passwordIsDefault, false);
    assert.equal(config.seed.demo, false);
    assert.equal(config.database.url, 'postgres://u@h/db');
  });

  test('every bad variable is named, and secrets are not echoed', () => {
    assert.throws(
      () => loadConfig({ PORT: 'abc', SEED_DEMO: 'maybe', DATABASE_URL: 'mysql://root:hunter2@h/db', LOG_LEVEL: 'loud', TRUST_PROXY: 'yes', JWT_SECRET: 'short' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const named = error.problems.map((p) => p.split(' ')[0]).sort();
        assert.deepEqual(named, ['DATABASE_URL', 'JWT_SECRET', 'LOG_LEVEL', 'PORT', 'SEED_DEMO', 'TRUST_PROXY']);
        assert.match(error.message, /PORT must be a whole number \(got "abc"\)/);
        assert.match(error.message, /SEED_DEMO must be one of: on, off/);
        assert.doesNotMatch(error.message, /hunter2|short/);
        return true;
      },
    );
  });

  test('WEBHOOK_RETENTION_DAYS: 30 by default, a whole number of days from 1 to 3650', () => {
    assert.equal(loadConfig({}).webhooks.retentionDays, 30);
    assert.equal(loadConfig({ WEBHOOK_RETENTION_DAYS: '7' }).webhooks.retentionDays, 7);
    for (const bad of ['0', '3651', 'a month']) {
      assert.throws(() => loadConfig({ WEBHOOK_RETENTION_DAYS: bad }), /WEBHOOK_RETENTION_DAYS must be a whole number of days from 1 to 3650/, bad);
    }
  });

  test('a number is written as one: "1.5" is not the whole number 1, "0x10" not 16', () => {
    assert.equal(loadConfig({ PORT: ' 8080 ', SIMULATOR_RATE: '0.5', OTEL_TRACES_SAMPLER_RATIO: '.25' }).port, 8080);
    assert.equal(loadConfig({ SIMULATOR_RATE: '0.5' }).simulator.ratePerSecond, 0.5);
    assert.throws(
      () => loadConfig({ PORT: '1.5', WEBHOOK_RETENTION_DAYS: '7.9', DATABASE_POOL_MAX: '2e1', SIMULATOR_RATE: '0x10', VENDOR_SIMULATOR_RATE: 'Infinity' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.map((p) => p.split(' ')[0]).sort(), ['DATABASE_POOL_MAX', 'PORT', 'SIMULATOR_RATE', 'VENDOR_SIMULATOR_RATE', 'WEBHOOK_RETENTION_DAYS']);
        assert.match(error.message, /PORT must be a whole number \(got "1\.5"\)/);
        assert.match(error.message, /WEBHOOK_RETENTION_DAYS must be a whole number of days from 1 to 3650 \(got "7\.9"\)/);
        assert.match(error.message, /SIMULATOR_RATE must be checks per second .* \(got "0x10"\)/);
        return true;
      },
    );
  });

  test('production requires JWT_SECRET', () => {
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }), /JWT_SECRET is required/);
    assert.doesNotThrow(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }));
  });
});
