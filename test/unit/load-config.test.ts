import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRecordingKey, loadServerConfig } from '../../src/config/load-config.js';
import { ConfigError, PROPERTIES, type PropertyDefinition } from '../../src/config/server-config.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let home: string;

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-load-config-'));
});

afterEach(() => {
  fs.rmSync(home, { recursive: true, force: true });
});

function writeProperties(text: string): string {
  fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
  const file = path.join(home, 'conf', 'server.properties');
  fs.writeFileSync(file, text);
  return file;
}

function writeDotEnv(text: string): string {
  const file = path.join(home, '.env');
  fs.writeFileSync(file, text);
  return file;
}

describe('loadServerConfig: sources', () => {
  it('no properties file, no .env, no env: defaults', () => {
    const { config, unknownKeys, sources } = loadServerConfig({ home, env: {} });
    expect(sources).toEqual([]);
    expect(unknownKeys).toEqual([]);
    for (const [field, definition] of Object.entries(PROPERTIES) as [keyof typeof PROPERTIES, PropertyDefinition<unknown>][]) {
      expect(config[field], field).toEqual(definition.parse(definition.defaultValue));
    }
    expect(config.home).toBe(path.resolve(home));
    expect(config.recordDirAbs).toBe(path.join(home, 'records'));
    expect(config.recordTmpDirAbs).toBe(path.join(home, 'records'));
  });

  it('conf/ dir without server.properties: defaults', () => {
    fs.mkdirSync(path.join(home, 'conf'));
    const { config, sources } = loadServerConfig({ home, env: {} });
    expect(sources).toEqual([]);
    expect(config.httpPort).toBe(8081);
  });

  it('reads conf/server.properties', () => {
    const file = writeProperties(
      [
        'http.port=9000',
        'rtmp.port=19350',
        'record_streams=false',
        'record_dir=/data/records',
        'record_tmp_dir=tmp-rec',
        'stream_record_policy_template={streamName}-{startTime}',
        'record_response_content_disposition_header_value=attachment',
        'record_stop_timeout=30',
        '',
      ].join('\n'),
    );
    const { config, sources, unknownKeys } = loadServerConfig({ home, env: {} });
    expect(sources).toEqual([file]);
    expect(unknownKeys).toEqual([]);
    expect(config.httpPort).toBe(9000);
    expect(config.rtmpPort).toBe(19350);
    expect(config.recordStreams).toBe(false);
    expect(config.recordDirAbs).toBe('/data/records');
    expect(config.recordTmpDirAbs).toBe(path.join(home, 'tmp-rec'));
    expect(config.streamRecordPolicyTemplate).toBe('{streamName}-{startTime}');
    expect(config.recordResponseContentDispositionHeaderValue).toBe('attachment');
    expect(config.recordStopTimeout).toBe(30);
  });

  it('comments (#) and blank lines in server.properties are ignored', () => {
    writeProperties(
      ['# a comment', '#http.port=1', '', '   ', '# record_streams=false', 'rtmp.port=2000', '#', ''].join('\n'),
    );
    const { config, unknownKeys } = loadServerConfig({ home, env: {} });
    expect(unknownKeys).toEqual([]);
    expect(config.httpPort).toBe(8081);
    expect(config.recordStreams).toBe(true);
    expect(config.rtmpPort).toBe(2000);
  });

  it('empty values in server.properties: empty hook script disables the hook', () => {
    writeProperties('on_record_hook_script=\nrecord_tmp_dir=\n');
    const { config } = loadServerConfig({ home, env: {} });
    expect(config.onRecordHookScriptAbs).toBeNull();
    expect(config.recordTmpDirAbs).toBe(path.join(home, 'records'));
  });

  it('unknown keys of server.properties are reported', () => {
    writeProperties('http.port=9000\nzzz_unknown=1\naaa.unknown=2\n');
    const { config, unknownKeys } = loadServerConfig({ home, env: {} });
    expect(config.httpPort).toBe(9000);
    expect(unknownKeys).toEqual(['aaa.unknown', 'zzz_unknown']);
  });

  it.each(['1e3', '0x1F90', '8081.0', '08081x'])('http.port=%s in server.properties is not coerced as a number', (value) => {
    writeProperties(`http.port=${value}\n`);
    expect(() => loadServerConfig({ home, env: {} })).toThrow(ConfigError);
    expect(() => loadServerConfig({ home, env: {} })).toThrow(value);
  });

  it('values keep "=" and "#" after the first "="; surrounding spaces are trimmed', () => {
    writeProperties('stream_record_policy_template = {streamName}=x#y \nip_local=  10.0.0.1  \n');
    const { config } = loadServerConfig({ home, env: {} });
    expect(config.streamRecordPolicyTemplate).toBe('{streamName}=x#y');
    expect(config.bindAddress).toBe('10.0.0.1');
  });

  it('bad value in server.properties throws ConfigError naming key and value', () => {
    writeProperties('record_streams=yes\n');
    expect(() => loadServerConfig({ home, env: {} })).toThrow(ConfigError);
    expect(() => loadServerConfig({ home, env: {} })).toThrow(/record_streams.*yes/);
  });
});

describe('loadServerConfig: precedence properties < .env < WCS_* environment', () => {
  it.each([
    // properties, .env, env, expected http.port
    ['http.port=9001', undefined, undefined, 9001],
    ['http.port=9001', 'http.port=9002', undefined, 9002],
    ['http.port=9001', 'WCS_HTTP_PORT=9002', undefined, 9002],
    ['http.port=9001', 'http.port=9002', '9003', 9003],
    ['http.port=9001', 'WCS_HTTP_PORT=9002', '9003', 9003],
    ['http.port=9001', undefined, '9003', 9003],
    [undefined, 'http.port=9002', undefined, 9002],
    [undefined, 'WCS_HTTP_PORT=9002', undefined, 9002],
    [undefined, undefined, '9003', 9003],
    [undefined, 'http.port=9002', '9003', 9003],
  ])('properties=%j .env=%j WCS_HTTP_PORT=%j -> %d', (props, dotEnv, envValue, expected) => {
    if (props !== undefined) writeProperties(props + '\n');
    if (dotEnv !== undefined) writeDotEnv(dotEnv + '\n');
    const env: NodeJS.ProcessEnv = envValue === undefined ? {} : { WCS_HTTP_PORT: envValue };
    const { config, sources, unknownKeys } = loadServerConfig({ home, env });
    expect(config.httpPort).toBe(expected);
    expect(unknownKeys).toEqual([]);
    const expectedSources = [
      ...(props !== undefined ? [path.join(home, 'conf', 'server.properties')] : []),
      ...(dotEnv !== undefined ? [path.join(home, '.env')] : []),
      ...(envValue !== undefined ? ['environment'] : []),
    ];
    expect(sources).toEqual(expectedSources);
  });

  it('sources are merged key by key', () => {
    writeProperties('http.port=9001\nrecord_streams=false\nrecord_stop_timeout=20\n');
    writeDotEnv('rtmp.port=2001\nWCS_RECORD_STOP_TIMEOUT=25\n');
    const { config } = loadServerConfig({
      home,
      env: { WCS_RECORD_RESPONSE_CONTENT_DISPOSITION_HEADER_VALUE: 'attachment' },
    });
    expect(config.httpPort).toBe(9001);
    expect(config.recordStreams).toBe(false);
    expect(config.rtmpPort).toBe(2001);
    expect(config.recordStopTimeout).toBe(25);
    expect(config.recordResponseContentDispositionHeaderValue).toBe('attachment');
  });

  it('.env: property name and WCS_ name are both understood; comments and blank lines ignored', () => {
    writeDotEnv(['# comment', '', 'record_streams=false', '   ', 'WCS_RTMP_PORT=2002', '#http.port=1', ''].join('\n'));
    const { config, unknownKeys } = loadServerConfig({ home, env: {} });
    expect(config.recordStreams).toBe(false);
    expect(config.rtmpPort).toBe(2002);
    expect(config.httpPort).toBe(8081);
    expect(unknownKeys).toEqual([]);
  });

  it('.env: an unknown name is reported as an unknown key', () => {
    writeDotEnv('SOMETHING_ELSE=1\n');
    expect(loadServerConfig({ home, env: {} }).unknownKeys).toEqual(['SOMETHING_ELSE']);
  });

  it('environment: unrelated variables are ignored, not reported', () => {
    const { config, unknownKeys, sources } = loadServerConfig({
      home,
      env: { PATH: '/usr/bin', HOME: '/root', WCS_NOT_A_KEY: 'x', http_port: '1', 'http.port': '2' },
    });
    expect(unknownKeys).toEqual([]);
    expect(sources).toEqual([]);
    expect(config.httpPort).toBe(8081);
  });

  it('environment: an empty WCS_ value overrides (and empty hook script disables the hook)', () => {
    writeProperties('on_record_hook_script=/opt/hook.sh\n');
    expect(loadServerConfig({ home, env: {} }).config.onRecordHookScriptAbs).toBe('/opt/hook.sh');
    expect(loadServerConfig({ home, env: { WCS_ON_RECORD_HOOK_SCRIPT: '' } }).config.onRecordHookScriptAbs).toBeNull();
  });

  it('environment: a bad WCS_ value throws naming the property key', () => {
    expect(() => loadServerConfig({ home, env: { WCS_RECORD_STREAMS: 'yes' } })).toThrow(/record_streams.*'yes'/);
  });

  it('environment: WCS_HTTP_PORT equal to rtmp.port is an error', () => {
    expect(() => loadServerConfig({ home, env: { WCS_HTTP_PORT: '1935' } })).toThrow(ConfigError);
  });
});

describe('loadServerConfig with the shipped conf/server.properties', () => {
  it('yields the defaults and no unknown keys', () => {
    fs.mkdirSync(path.join(home, 'conf'));
    fs.copyFileSync(path.join(REPO_ROOT, 'conf', 'server.properties'), path.join(home, 'conf', 'server.properties'));
    const { config, unknownKeys } = loadServerConfig({ home, env: {} });
    expect(unknownKeys).toEqual([]);
    for (const [field, definition] of Object.entries(PROPERTIES) as [keyof typeof PROPERTIES, PropertyDefinition<unknown>][]) {
      expect(config[field], field).toEqual(definition.parse(definition.defaultValue));
    }
  });

  it('uncommenting every default line gives the same defaults', () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'conf', 'server.properties'), 'utf8');
    const keys = new Set(Object.values(PROPERTIES).map((d) => d.key));
    const uncommented = text
      .split('\n')
      .map((l) => {
        const m = /^#([A-Za-z0-9_.-]+)=/.exec(l);
        return m && keys.has(m[1]!) ? l.slice(1) : l;
      })
      .join('\n');
    writeProperties(uncommented);
    const { config, unknownKeys } = loadServerConfig({ home, env: {} });
    expect(unknownKeys).toEqual([]);
    for (const [field, definition] of Object.entries(PROPERTIES) as [keyof typeof PROPERTIES, PropertyDefinition<unknown>][]) {
      expect(config[field], field).toEqual(definition.parse(definition.defaultValue));
    }
  });
});

function writeFlashphoner(text: string): string {
  fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
  const file = path.join(home, 'conf', 'flashphoner.properties');
  fs.writeFileSync(file, text);
  return file;
}

describe('loadServerConfig: conf/flashphoner.properties brought from WCS (issue 18)', () => {
  it('is read on its own: record_streams=false there stops recording', () => {
    const file = writeFlashphoner('record_streams=false\nrecord_rotation=20\n');
    const { config, sources, origins, flashphonerFile, unknownKeys, flashphonerUnknownKeys } = loadServerConfig({ home, env: {} });
    expect(config.recordStreams).toBe(false);
    expect(config.recordRotation).toEqual(PROPERTIES.recordRotation.parse('20'));
    expect(sources).toEqual([file]);
    expect(flashphonerFile).toBe(file);
    expect(origins).toEqual({ record_streams: file, record_rotation: file });
    expect(unknownKeys).toEqual([]);
    expect(flashphonerUnknownKeys).toEqual([]);
  });

  it('server.properties wins where both set a key; each key keeps the file that set it', () => {
    const fp = writeFlashphoner('record_streams=false\nrecord_dir=/wcs/records\nhttp.port=9100\n');
    const sp = writeProperties('record_streams=true\nrtmp.port=19350\n');
    const { config, sources, origins, flashphonerOverridden } = loadServerConfig({ home, env: { WCS_HTTP_PORT: '9200' } });
    expect(sources).toEqual([fp, sp, 'environment']);
    expect(config.recordStreams).toBe(true);
    expect(config.recordDir).toBe('/wcs/records');
    expect(config.rtmpPort).toBe(19350);
    expect(config.httpPort).toBe(9200);
    expect(origins).toMatchObject({ record_streams: sp, record_dir: fp, 'rtmp.port': sp, 'http.port': 'environment' });
    expect(flashphonerOverridden).toEqual(['http.port', 'record_streams']);
  });

  it('.env overrides flashphoner.properties too', () => {
    writeFlashphoner('record_streams=false\n');
    const env = writeDotEnv('WCS_RECORD_STREAMS=true\n');
    const { config, origins } = loadServerConfig({ home, env: {} });
    expect(config.recordStreams).toBe(true);
    expect(origins.record_streams).toBe(env);
  });

  it('its unknown WCS keys are listed apart, once each; unknown keys of server.properties stay in unknownKeys', () => {
    writeFlashphoner('ice_tcp_transport=true\nwcs_agent_port_from=44001\nrecord_streams=true\nshared_key=1\n');
    writeProperties('shared_key=2\nmy_typo=1\n');
    const { unknownKeys, flashphonerUnknownKeys, flashphonerOverridden } = loadServerConfig({ home, env: {} });
    expect(flashphonerUnknownKeys).toEqual(['ice_tcp_transport', 'wcs_agent_port_from']);
    // set in both: reported once, with the file that won
    expect(unknownKeys).toEqual(['my_typo', 'shared_key']);
    expect(flashphonerOverridden).toEqual(['shared_key']);
  });

  it('a bad value there names the key and the file', () => {
    const file = writeFlashphoner('record_rotation=sometimes\n');
    expect(() => loadServerConfig({ home, env: {} })).toThrow(ConfigError);
    expect(() => loadServerConfig({ home, env: {} })).toThrow(`(set in ${file})`);
    // the same bad value in server.properties keeps its message as it was
    fs.rmSync(file);
    writeProperties('record_rotation=sometimes\n');
    expect(() => loadServerConfig({ home, env: {} })).toThrow(/^Bad value for record_rotation: 'sometimes'; allowed: [^(]*$/);
  });

  it('recording keys, whose origin is logged at start', () => {
    for (const key of ['record_streams', 'stream_record_x', 'mp4_container_moov_first', 'file_recorder_min_space', 'webm_cluster_size_limit', 'record_muxer']) {
      expect(isRecordingKey(key), key).toBe(true);
    }
    for (const key of ['http.port', 'rtmp.port', 'ip_local', 'log_level']) expect(isRecordingKey(key), key).toBe(false);
  });
});
