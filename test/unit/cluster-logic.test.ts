import { describe, expect, it } from 'vitest';
import type { NodeRow } from '../../src/cluster/cluster-store.js';
import { clusterStreams, isAlive, nodeView } from '../../src/cluster/liveness.js';
import { resolveNodeId, resolvePublicUrl } from '../../src/cluster/open-catalog.js';
import { peerUrl } from '../../src/http/peer-proxy.js';
import { isConnectionFailure } from '../../src/catalog/catalog-errors.js';
import { ConfigError, parseServerConfig } from '../../src/config/server-config.js';

function node(over: Partial<NodeRow>): NodeRow {
  return { nodeId: 'a', publicUrl: 'http://a:8081', startedMs: 0, version: '1', streams: [], lastSeenMs: 10_000, nowMs: 12_000, stoppedMs: null, ...over };
}

describe('cluster liveness (pure)', () => {
  it.each([
    [{ lastSeenMs: 10_000, nowMs: 12_000 }, true],
    [{ lastSeenMs: 10_000, nowMs: 15_000 }, true],
    [{ lastSeenMs: 10_000, nowMs: 15_001 }, false],
    [{ lastSeenMs: 10_000, nowMs: 11_000, stoppedMs: 10_500 }, false],
  ] as const)('%o with a 5 s timeout: alive %s', (over, alive) => {
    expect(isAlive(node(over), 5000)).toBe(alive);
  });

  it('a node view says how long ago it was seen and whether it is the one answering', () => {
    expect(nodeView(node({ streams: [{ name: 's' }] }), 5000, 'a')).toMatchObject({ nodeId: 'a', alive: true, lastSeenAgoSeconds: 2, streams: 1, self: true, stoppedAt: null });
    expect(nodeView(node({}), 1000, 'b')).toMatchObject({ alive: false, self: false });
  });

  it('cluster streams: this node live, other alive nodes from their heartbeat, dead nodes left out', () => {
    const nodes = [
      node({ nodeId: 'a', streams: [{ name: 'stale-own' }] }),
      node({ nodeId: 'b', streams: [{ name: 'cam-b' }] }),
      node({ nodeId: 'c', streams: [{ name: 'cam-c' }], lastSeenMs: 0 }),
    ];
    expect(clusterStreams(nodes, 5000, 'a', [{ name: 'live-own' }])).toEqual([
      { name: 'live-own', nodeId: 'a' },
      { name: 'cam-b', nodeId: 'b' },
    ]);
  });
});

describe('node identity and peer URLs (pure)', () => {
  it('node_id defaults to the host name, made valid', () => {
    expect(resolveNodeId('', 'rec-01.example.com')).toBe('rec-01.example.com');
    expect(resolveNodeId('', '_weird host!')).toBe('weird-host-');
    expect(resolveNodeId('', '')).toBe('node');
    expect(resolveNodeId('b', 'host')).toBe('b');
  });

  it('node_public_url defaults to http://<ip>:<http.port>', () => {
    expect(resolvePublicUrl('', '10.0.0.5', 8081)).toBe('http://10.0.0.5:8081');
    expect(resolvePublicUrl('', '::1', 8081)).toBe('http://[::1]:8081');
    expect(resolvePublicUrl('https://rec-b.example.com', '10.0.0.5', 8081)).toBe('https://rec-b.example.com');
  });

  it('the request path goes under the node base URL, prefix kept, query kept', () => {
    expect(peerUrl('http://b:8081', '/client/records/x.mp4?start=1&end=2').toString()).toBe('http://b:8081/client/records/x.mp4?start=1&end=2');
    expect(peerUrl('https://lb.example.com/rec-b/', '/client/records/x.mp4').toString()).toBe('https://lb.example.com/rec-b/client/records/x.mp4');
    // a request URL never changes the host
    expect(peerUrl('http://b:8081', '//evil.example.com/x').host).toBe('b:8081');
  });
});

describe('catalog database failures (pure)', () => {
  const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
  it.each([
    [withCode('ECONNREFUSED'), true],
    [withCode('57P01', 'terminating connection due to administrator command'), true],
    [withCode('08006'), true],
    [withCode('53300'), true],
    [new Error('Connection terminated unexpectedly'), true],
    [new Error('timeout exceeded when trying to connect'), true],
    [withCode('23505', 'duplicate key value violates unique constraint'), false],
    [withCode('42P01', 'relation "x" does not exist'), false],
    ['not an error', false],
  ] as const)('%o is a connection failure: %s', (err, expected) => {
    expect(isConnectionFailure(err)).toBe(expected);
  });
});

describe('cluster properties', () => {
  it('catalog_url: empty or postgres://; a bad one is refused without echoing its password', () => {
    expect(parseServerConfig({}, '/h').config.catalogUrl).toBe('');
    expect(parseServerConfig({ catalog_url: 'postgresql://u:pw@db:5432/wcs' }, '/h').config.catalogUrl).toBe('postgresql://u:pw@db:5432/wcs');
    expect(() => parseServerConfig({ catalog_url: 'mysql://u:hunter2@db/wcs' }, '/h')).toThrow(ConfigError);
    expect(() => parseServerConfig({ catalog_url: 'mysql://u:hunter2@db/wcs' }, '/h')).not.toThrow(/hunter2/);
  });

  it('node_id and node_public_url are checked', () => {
    expect(parseServerConfig({ node_id: 'rec-a.1' }, '/h').config.nodeId).toBe('rec-a.1');
    expect(() => parseServerConfig({ node_id: '../x' }, '/h')).toThrow(/node_id/);
    expect(() => parseServerConfig({ node_id: 'a'.repeat(65) }, '/h')).toThrow(/node_id/);
    expect(parseServerConfig({ node_public_url: 'http://10.0.0.5:8081/' }, '/h').config.nodePublicUrl).toBe('http://10.0.0.5:8081');
    expect(() => parseServerConfig({ node_public_url: 'ftp://x' }, '/h')).toThrow(/node_public_url/);
    expect(() => parseServerConfig({ node_public_url: 'http://x/?a=1' }, '/h')).toThrow(/node_public_url/);
    expect(() => parseServerConfig({ cluster_heartbeat_interval: '0' }, '/h')).toThrow(/cluster_heartbeat_interval/);
  });
});
