import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics, type MetricsSources } from '../../src/http/metrics/metrics.js';
import { metricNames } from '../helpers/prometheus.js';

interface Target {
  readonly expr: string;
  readonly datasource: { readonly type: string; readonly uid: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string; readonly query: unknown }[] };
  readonly panels: readonly Panel[];
}

const FILE = path.resolve(import.meta.dirname, '..', '..', 'conf', 'grafana', 'wcs-recorder.json');

const sources: MetricsSources = {
  streamProviders: () => [],
  recordingsActive: () => 0,
  rtspPullStatuses: () => [],
  webrtcSessions: () => 0,
  diskDirs: [],
  freeSpace: async () => 0,
  eventLoop: () => ({ meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, sinceMs: 0 }),
  eventLoopWindow: () => ({ count: 0, minSeconds: 0, maxSeconds: 0, meanSeconds: 0, stddevSeconds: 0, p50Seconds: 0, p90Seconds: 0, p99Seconds: 0 }),
  recordingStates: () => [],
  hookQueue: () => ({ running: 0, queued: 0, dropped: 0 }),
  uploadCounts: async () => null,
  uploadFailures: () => ({ retry: 0, failed: 0 }),
  webhookCounts: async () => null,
  webhookTotals: () => ({ dead: 0, dropped: 0 }),
};

describe('the Grafana dashboard (conf/grafana/wcs-recorder.json)', () => {
  const dashboard = JSON.parse(fs.readFileSync(FILE, 'utf8')) as Dashboard;

  it('has a Prometheus datasource variable that every panel and query uses', () => {
    expect(dashboard.uid).toBe('wcs-recorder');
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThan(15);
    for (const p of graphs) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource.uid, p.title).toBe('${datasource}');
    }
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('queries only series the daemon exports, and shows every wcs_ family', async () => {
    const exported = metricNames(await new Metrics(sources, { processMetrics: true }).text());
    const used = new Set<string>();
    for (const p of dashboard.panels) {
      for (const t of p.targets ?? []) {
        for (const m of t.expr.matchAll(/\b((?:wcs|process|nodejs)_[a-z0-9_]+)\b/g)) {
          const name = m[1]!.replace(/_(bucket|count|sum)$/, '');
          expect(exported.has(name), `${p.title}: ${name}`).toBe(true);
          used.add(name);
        }
      }
    }
    for (const family of [...exported].filter((n) => n.startsWith('wcs_'))) expect(used.has(family), family).toBe(true);
  });
});
