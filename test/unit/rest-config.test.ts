import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseServerConfig } from '../../src/config/server-config.js';
import { optionalPortValue, ValueError } from '../../src/config/values.js';

const HOME = '/srv/wcs-home';

describe('REST, cut and HTTPS properties', () => {
  it('are off by default; mp4_cutter_dir defaults to record_dir', () => {
    const { config } = parseServerConfig({}, HOME);
    expect(config.restApiToken).toBe('');
    expect(config.recordsAccessToken).toBe('');
    expect(config.mp4CutterDirAbs).toBe(path.join(HOME, 'records'));
    expect(config.httpsPort).toBeNull();
    expect(config.httpsCertAbs).toBeNull();
    expect(config.httpsKeyAbs).toBeNull();
  });

  it('mp4_cutter_dir follows record_dir when empty, else is resolved under WCS_HOME', () => {
    expect(parseServerConfig({ record_dir: '/data/rec' }, HOME).config.mp4CutterDirAbs).toBe('/data/rec');
    expect(parseServerConfig({ mp4_cutter_dir: 'cuts' }, HOME).config.mp4CutterDirAbs).toBe(path.join(HOME, 'cuts'));
    expect(parseServerConfig({ mp4_cutter_dir: '/tmp' }, HOME).config.mp4CutterDirAbs).toBe('/tmp');
  });

  it('tokens are kept without surrounding spaces', () => {
    const { config } = parseServerConfig({ rest_api_token: ' s3cret ', records_access_token: 'r' }, HOME);
    expect(config.restApiToken).toBe('s3cret');
    expect(config.recordsAccessToken).toBe('r');
  });

  it('https.port needs https.cert and https.key, and a port of its own', () => {
    const { config } = parseServerConfig({ 'https.port': '8444', 'https.cert': 'conf/cert.pem', 'https.key': '/k.pem' }, HOME);
    expect(config.httpsPort).toBe(8444);
    expect(config.httpsCertAbs).toBe(path.join(HOME, 'conf', 'cert.pem'));
    expect(config.httpsKeyAbs).toBe('/k.pem');
    expect(() => parseServerConfig({ 'https.port': '8444', 'https.key': 'k' }, HOME)).toThrow(/https\.cert/);
    expect(() => parseServerConfig({ 'https.port': '8444', 'https.cert': 'c' }, HOME)).toThrow(/https\.key/);
    expect(() => parseServerConfig({ 'https.port': '8081', 'https.cert': 'c', 'https.key': 'k' }, HOME)).toThrow(ConfigError);
    expect(() => parseServerConfig({ 'https.port': '1935', 'https.cert': 'c', 'https.key': 'k' }, HOME)).toThrow(/https\.port: '1935'/);
    expect(() => parseServerConfig({ 'https.port': 'abc' }, HOME)).toThrow(/https\.port: 'abc'; allowed: empty \(off\)/);
  });

  it('optionalPortValue', () => {
    expect(optionalPortValue('')).toBeNull();
    expect(optionalPortValue('  ')).toBeNull();
    expect(optionalPortValue('443')).toBe(443);
    expect(() => optionalPortValue('0')).toThrow(ValueError);
    expect(() => optionalPortValue('65536')).toThrow(ValueError);
  });
});
