/**
 * The Grafana dashboard, the Prometheus alert rules and docs/metrics.md against what the
 * app really exports: the app (with the sync worker and the vendor simulator, so the
 * worker's metrics exist too) is started, exercised and scraped at GET /metrics; every
 * PromQL expression is parsed with Prometheus's own grammar (@prometheus-io/lezer-promql)
 * and each metric and label it names must exist.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { asArray, asRecord, read, yamlDocuments } from './helpers.js';

/** Labels Prometheus adds to every scraped series (target labels), and its own `up`. */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'service', 'node']);
const PROMETHEUS_METRICS = new Map([['up', new Set<string>()]]);

interface Family {
  type: string;
  labels: Set<string>;
}

/** Families from `# TYPE` lines, sample names mapped to their family. */
function parseExposition(text: string) {
  const families = new Map<string, Family>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.set(match[1] ?? '', { type: match[2] ?? '', labels: new Set() });
  }
  const samples = new Map<string, string>();
  for (const [name, family] of families) {
    samples.set(name, name);
    const suffixes = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : family.type === 'summary' ? ['_sum', '_count'] : [];
    for (const suffix of suffixes) {
      samples.set(name + suffix, name);
    }
  }
  return { families, samples };
}

interface Reference {
  metrics: { name: string; labels: string[] }[];
  grouping: string[];
}

/** Metric selectors and grouping labels of a PromQL expression; throws on a syntax error. */
function analyse(expr: string, where: string): Reference {
  const tree = parser.parse(expr);
  const reference: Reference = { metrics: [], grouping: [] };
  let current: { name: string; labels: string[] } | undefined;
  let inGrouping = 0;
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        throw new Error(`${where}: PromQL syntax error at ${node.from}: ${expr}`);
      }
      const text = expr.slice(node.from, node.to);
      switch (node.type.name) {
        case 'VectorSelector':
          current = { name: '', labels: [] };
          reference.metrics.push(current);
          break;
        case 'Identifier':
          if (current && current.name === '') {
            current.name = text;
          }
          break;
        case 'GroupingLabels':
          inGrouping++;
          break;
        case 'LabelName':
          if (inGrouping > 0) {
            reference.grouping.push(text);
          } else if (current) {
            current.labels.push(text);
          }
          break;
        default:
          break;
      }
    },
    leave(node) {
      if (node.type.name === 'VectorSelector') {
        current = undefined;
      } else if (node.type.name === 'GroupingLabels') {
        inGrouping--;
      }
    },
  });
  assert.ok(reference.metrics.length > 0, `${where}: selects at least one metric`);
  return reference;
}

function dashboardQueries(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(read('deploy/grafana/bursar-dashboard.json')) as { panels: { title: string; type: string; targets?: { expr: string }[] }[] };
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target, i) => ({ where: `dashboard "${panel.title}" #${i}`, expr: target.expr })));
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): Rule[] {
  const [file] = yamlDocuments('deploy/prometheus/alerts.yaml');
  assert.ok(file);
  const groups = asArray(file.groups, 'groups') as { name: string; rules: Rule[] }[];
  return groups.flatMap((group) => {
    asRecord(group, 'group');
    return asArray(group.rules, `${group.name} rules`) as Rule[];
  });
}

describe('observability assets against the metrics the app exports', () => {
  let t: TestApp;
  let exposition = '';
  let families = new Map<string, Family>();
  let samples = new Map<string, string>();

  before(async () => {
    // The sync worker and the vendor simulator in-process: the union of what the api and
    // the worker processes export.
    t = await createTestApp({ env: { SYNC: 'on', VENDOR_SIMULATOR: 'on', VENDOR_SIMULATOR_RATE: '0' } });
    await insertUser(t.db, { username: 'metrics.dev', role: 'developer' });
    const { accessToken } = await login(t.app, 'metrics.dev');
    await t.app.inject({ method: 'GET', url: '/health' });
    await t.app.inject({ method: 'GET', url: '/api/v1/sync/status', headers: { authorization: `Bearer ${accessToken}` } });
    await t.app.inject({ method: 'GET', url: '/api/v1/no-such-route' });
    // The worker's first pass: request counters and the feed's lag gauge get samples.
    await waitFor('the live feed caught up', async () => /^bursar_sync_lag_seconds\{feed="live"\} /m.test(await scrape()), 30_000);
    exposition = await scrape();
    ({ families, samples } = parseExposition(exposition));
    // Label names come from the metric objects (a labelled metric has no sample until used).
    for (const metric of t.app.metrics.getMetricsAsArray()) {
      const family = families.get(metric.name);
      const labelNames = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
      if (family) {
        labelNames.forEach((label) => family.labels.add(label));
        if (family.type === 'histogram') {
          family.labels.add('le');
        }
      }
    }
  });
  after(async () => {
    await t.close();
  });

  async function scrape(): Promise<string> {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    return response.body;
  }

  test('the scrape holds the families the assets are built on', () => {
    for (const name of [
      'bursar_http_request_duration_seconds',
      'bursar_db_pool_connections',
      'bursar_live_clients',
      'bursar_sync_lag_seconds',
      'bursar_sync_requests_total',
      'bursar_statement_cache_lookups_total',
      'bursar_process_resident_memory_bytes',
    ]) {
      assert.ok(families.has(name), `${name} is exported`);
    }
    assert.match(exposition, /^bursar_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/m);
    assert.match(exposition, /^bursar_sync_lag_seconds\{feed="live"\} /m);
  });

  function checkExpression(where: string, expr: string) {
    const reference = analyse(expr, where);
    const labelsInScope = new Set(TARGET_LABELS);
    for (const { name, labels } of reference.metrics) {
      const family = families.get(samples.get(name) ?? '');
      const known = family?.labels ?? PROMETHEUS_METRICS.get(name);
      assert.ok(known, `${where}: ${name} is exported by the app`);
      for (const label of labels) {
        assert.ok(known.has(label) || TARGET_LABELS.has(label), `${where}: ${name} has label "${label}"`);
      }
      known.forEach((label) => labelsInScope.add(label));
    }
    for (const label of reference.grouping) {
      assert.ok(labelsInScope.has(label), `${where}: grouping label "${label}" exists on a selected metric`);
    }
  }

  test('every dashboard query parses and uses exported metrics and labels', () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    for (const { where, expr } of queries) {
      checkExpression(where, expr);
    }
  });

  test('every alert rule parses, uses exported metrics and labels, and is well-formed', () => {
    const rules = alertRules();
    assert.ok(rules.length >= 10);
    const names = new Set<string>();
    for (const rule of rules) {
      assert.match(rule.alert, /^Bursar[A-Za-z0-9]+$/);
      assert.ok(!names.has(rule.alert), `${rule.alert} is unique`);
      names.add(rule.alert);
      assert.match(rule.for ?? '0m', /^\d+[smh]$/, `${rule.alert}: for`);
      assert.ok(['warning', 'critical'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
      checkExpression(`alert ${rule.alert}`, rule.expr);
    }
    for (const expected of ['BursarHigh5xxRate', 'BursarPaymentServerErrors', 'BursarSyncLagHigh', 'BursarSyncFeedBlocked', 'BursarDbPoolSaturated', 'BursarInstanceDown']) {
      assert.ok(names.has(expected), `${expected} is defined`);
    }
  });

  test('the checks are live: an unknown metric, an unknown label and bad syntax are refused', () => {
    assert.throws(() => checkExpression('probe', 'rate(bursar_payments_failed_total[5m])'), /bursar_payments_failed_total is exported/);
    assert.throws(() => checkExpression('probe', 'sum by (school) (bursar_live_clients)'), /grouping label "school"/);
    assert.throws(() => checkExpression('probe', 'bursar_db_pool_connections{pool="x"}'), /has label "pool"/);
    assert.throws(() => checkExpression('probe', 'sum(rate(bursar_live_clients[5m])'), /syntax error/);
  });

  test('docs/metrics.md documents every exported family, and names nothing else', () => {
    const doc = read('docs/metrics.md');
    const undocumented = [...families.keys()].filter((name) => !doc.includes(`\`${name}\``));
    assert.deepEqual(undocumented, [], 'docs/metrics.md documents every family');
    for (const match of doc.matchAll(/`(bursar_[a-z0-9_]+)`/g)) {
      const name = match[1] ?? '';
      assert.ok(samples.has(name), `docs/metrics.md: ${name} is exported`);
    }
  });
});
