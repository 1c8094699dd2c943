import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  environmentName,
  parseServerConfig,
  PROPERTIES,
  type PropertyDefinition,
} from '../../src/config/server-config.js';
import {
  booleanValue,
  enumValue,
  integerValue,
  nonEmptyStringValue,
  portValue,
  stringValue,
  templateValue,
  ValueError,
} from '../../src/config/values.js';

const HOME = '/srv/wcs-home';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const definitions = Object.entries(PROPERTIES) as [keyof typeof PROPERTIES, PropertyDefinition<unknown>][];

function parse(raw: Record<string, string> = {}, home = HOME) {
  return parseServerConfig(raw, home);
}

/** Runs fn, expects a ConfigError, returns its message. */
function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('values.ts parsers', () => {
  it.each([
    ['true', true],
    ['false', false],
    [' TRUE ', true],
    ['False', false],
  ])('booleanValue(%j) = %j', (raw, expected) => {
    expect(booleanValue(raw)).toBe(expected);
  });

  it.each(['yes', 'no', '1', '0', '', 'truee'])('booleanValue(%j) throws ValueError', (raw) => {
    expect(() => booleanValue(raw)).toThrow(ValueError);
    expect(() => booleanValue(raw)).toThrow('true or false');
  });

  it.each([
    ['1', 1],
    ['65535', 65535],
    [' 8081 ', 8081],
  ])('portValue(%j) = %j', (raw, expected) => {
    expect(portValue(raw)).toBe(expected);
  });

  it.each(['0', '65536', '-1', 'abc', '1.5', '', '1e3', '0x50', '99999999999999999999'])(
    'portValue(%j) throws',
    (raw) => {
      expect(() => portValue(raw)).toThrow(ValueError);
      expect(() => portValue(raw)).toThrow('an integer from 1 to 65535');
    },
  );

  it('integerValue bounds are inclusive', () => {
    const p = integerValue(-2, 3);
    expect(p('-2')).toBe(-2);
    expect(p('3')).toBe(3);
    expect(() => p('-3')).toThrow(ValueError);
    expect(() => p('4')).toThrow(ValueError);
  });

  it('enumValue accepts only listed values (case-sensitive, trimmed)', () => {
    const p = enumValue(['inline', 'attachment'] as const);
    expect(p(' inline ')).toBe('inline');
    expect(p('attachment')).toBe('attachment');
    expect(() => p('Inline')).toThrow('one of inline, attachment');
    expect(() => p('download')).toThrow(ValueError);
  });

  it('string parsers', () => {
    expect(stringValue('  a b  ')).toBe('a b');
    expect(stringValue('')).toBe('');
    expect(nonEmptyStringValue(' x ')).toBe('x');
    expect(() => nonEmptyStringValue('   ')).toThrow(ValueError);
    expect(templateValue(' {streamName} ')).toBe('{streamName}');
    expect(() => templateValue('')).toThrow(ValueError);
    expect(() => templateValue('  ')).toThrow(ValueError);
  });
});

describe('parseServerConfig defaults', () => {
  it.each(definitions)('%s defaults to the parsed defaultValue of its PROPERTIES entry', (field, definition) => {
    const { config } = parse();
    expect(config[field]).toEqual(definition.parse(definition.defaultValue));
  });

  it.each([
    ['httpPort', 8081],
    ['rtmpPort', 1935],
    ['bindAddress', '0.0.0.0'],
    ['recordStreams', true],
    ['recordFlashPublishedStreams', true],
    ['recordDir', 'records'],
    ['recordTmpDir', ''],
    ['streamRecordPolicyTemplate', 'stream-{mediaSessionId}-{login}'],
    ['onRecordHookScript', 'bin/on_record_hook.sh'],
    ['recordResponseContentDispositionHeaderValue', 'inline'],
    ['recordStopTimeout', 15],
  ] as const)('default %s = %j', (field, expected) => {
    expect(parse().config[field]).toEqual(expected);
  });

  it('derived absolute paths', () => {
    const { config, unknownKeys } = parse();
    expect(unknownKeys).toEqual([]);
    expect(config.home).toBe(HOME);
    expect(config.recordDirAbs).toBe(path.join(HOME, 'records'));
    expect(config.recordTmpDirAbs).toBe(path.join(HOME, 'records'));
    expect(config.onRecordHookScriptAbs).toBe(path.join(HOME, 'bin', 'on_record_hook.sh'));
    expect(config.logsDirAbs).toBe(path.join(HOME, 'logs'));
  });

  it('a relative home is made absolute', () => {
    const { config } = parse({}, 'some/rel');
    expect(config.home).toBe(path.resolve('some/rel'));
    expect(config.recordDirAbs).toBe(path.resolve('some/rel', 'records'));
  });
});

describe('parseServerConfig paths', () => {
  it.each([
    // record_dir, record_tmp_dir, expected recordDirAbs, expected recordTmpDirAbs
    [undefined, undefined, `${HOME}/records`, `${HOME}/records`],
    [undefined, '', `${HOME}/records`, `${HOME}/records`],
    ['', '', `${HOME}/records`, `${HOME}/records`],
    ['out', '', `${HOME}/out`, `${HOME}/out`],
    ['/data/rec', '', '/data/rec', '/data/rec'],
    ['/data/rec', 'tmp', '/data/rec', `${HOME}/tmp`],
    [undefined, 'work/tmp', `${HOME}/records`, `${HOME}/work/tmp`],
    [undefined, '/var/tmp/wcs', `${HOME}/records`, '/var/tmp/wcs'],
    [undefined, '../outside', `${HOME}/records`, path.resolve(HOME, '../outside')],
  ])('record_dir=%j record_tmp_dir=%j', (recordDir, recordTmpDir, dirAbs, tmpAbs) => {
    const raw: Record<string, string> = {};
    if (recordDir !== undefined) raw['record_dir'] = recordDir;
    if (recordTmpDir !== undefined) raw['record_tmp_dir'] = recordTmpDir;
    const { config } = parse(raw);
    expect(config.recordDirAbs).toBe(dirAbs);
    expect(config.recordTmpDirAbs).toBe(tmpAbs);
  });

  it.each([
    ['', null],
    ['   ', null],
    ['hooks/x.sh', `${HOME}/hooks/x.sh`],
    ['/usr/local/bin/hook', '/usr/local/bin/hook'],
  ])('on_record_hook_script=%j -> %j', (value, expected) => {
    expect(parse({ on_record_hook_script: value }).config.onRecordHookScriptAbs).toBe(expected);
  });
});

describe('parseServerConfig accepted values', () => {
  it.each([
    ['http.port', '9000', 'httpPort', 9000],
    ['http.port', ' 1 ', 'httpPort', 1],
    ['rtmp.port', '65535', 'rtmpPort', 65535],
    ['record_streams', 'false', 'recordStreams', false],
    ['record_streams', 'TRUE', 'recordStreams', true],
    ['record_flash_published_streams', 'false', 'recordFlashPublishedStreams', false],
    ['record_response_content_disposition_header_value', 'attachment', 'recordResponseContentDispositionHeaderValue', 'attachment'],
    ['record_stop_timeout', '1', 'recordStopTimeout', 1],
    ['record_stop_timeout', '3600', 'recordStopTimeout', 3600],
    ['stream_record_policy_template', '{streamName}', 'streamRecordPolicyTemplate', '{streamName}'],
    ['stream_record_policy_template', ' {streamName}-{startTime} ', 'streamRecordPolicyTemplate', '{streamName}-{startTime}'],
    ['ip_local', '127.0.0.1', 'bindAddress', '127.0.0.1'],
    ['ffmpeg_path', '/opt/ffmpeg', 'ffmpegPath', '/opt/ffmpeg'],
    ['rtmp_publish_grace_ms', '600000', 'rtmpPublishGraceMs', 600000],
    ['rtmp_publisher_idle_timeout', '3600', 'rtmpPublisherIdleTimeout', 3600],
  ] as const)('%s=%j -> %s = %j', (key, value, field, expected) => {
    expect(parse({ [key]: value }).config[field]).toEqual(expected);
  });
});

describe('parseServerConfig errors', () => {
  it.each([
    ['record_streams', 'yes', /true or false/],
    ['record_streams', '1', /true or false/],
    ['record_streams', '', /true or false/],
    ['record_flash_published_streams', 'no', /true or false/],
    ['http.port', '0', /an integer from 1 to 65535/],
    ['http.port', '65536', /an integer from 1 to 65535/],
    ['http.port', 'abc', /an integer from 1 to 65535/],
    ['http.port', '1.5', /an integer from 1 to 65535/],
    ['http.port', '', /an integer from 1 to 65535/],
    ['rtmp.port', '0', /an integer from 1 to 65535/],
    ['rtmp.port', '65536', /an integer from 1 to 65535/],
    ['rtmp.port', 'abc', /an integer from 1 to 65535/],
    ['rtmp.port', '1.5', /an integer from 1 to 65535/],
    ['rtmp.port', '-1935', /an integer from 1 to 65535/],
    ['record_response_content_disposition_header_value', 'download', /inline/],
    ['record_response_content_disposition_header_value', 'Attachment', /attachment/],
    ['record_stop_timeout', '0', /an integer from 1 to 3600/],
    ['record_stop_timeout', '3601', /an integer from 1 to 3600/],
    ['record_stop_timeout', 'ten', /an integer from 1 to 3600/],
    ['stream_record_policy_template', '', /non-empty/],
    ['stream_record_policy_template', '   ', /non-empty/],
    ['rtmp_publish_grace_ms', '-1', /an integer from 0 to 600000/],
    ['rtmp_publish_grace_ms', '600001', /an integer from 0 to 600000/],
    ['rtmp_publisher_idle_timeout', '0', /an integer from 1 to 3600/],
  ])('%s=%j throws ConfigError naming key, value and what is allowed', (key, value, allowed) => {
    const message = configErrorOf(() => parse({ [key]: value }));
    expect(message).toContain(key);
    expect(message).toContain(`'${value}'`);
    expect(message).toMatch(allowed);
    expect(() => parse({ [key]: value })).toThrow(ConfigError);
  });

  it.each([
    ['record_streams', 'yes', /record_streams/],
    ['http.port', '65536', /http\.port/],
    ['record_response_content_disposition_header_value', 'download', /record_response_content_disposition_header_value/],
  ])('toThrow(%s) regex form', (key, value, re) => {
    expect(() => parse({ [key]: value })).toThrow(re);
    expect(() => parse({ [key]: value })).toThrow(value);
  });

  it.each([
    [{ 'http.port': '1935' }],
    [{ 'rtmp.port': '8081' }],
    [{ 'http.port': '9000', 'rtmp.port': '9000' }],
    [{ 'http.port': '9000', 'rtmp.port': ' 9000 ' }],
  ])('http.port equal to rtmp.port is an error: %j', (raw) => {
    const message = configErrorOf(() => parse(raw));
    expect(message).toMatch(/rtmp\.port/);
    expect(message).toMatch(/http\.port/);
  });

  it('different ports are fine', () => {
    const { config } = parse({ 'http.port': '9000', 'rtmp.port': '9001' });
    expect([config.httpPort, config.rtmpPort]).toEqual([9000, 9001]);
  });
});

describe('parseServerConfig unknown keys', () => {
  it('returns unknown keys sorted, never known ones', () => {
    const { unknownKeys } = parse({
      zeta: '1',
      'http.port': '9000',
      alpha: '2',
      record_streams: 'false',
      'Http.Port': '1',
      'rtmp.port ': '1',
    });
    expect(unknownKeys).toEqual(['Http.Port', 'alpha', 'rtmp.port ', 'zeta'].sort());
  });

  it('no unknown keys when every known key is given', () => {
    const raw = Object.fromEntries(Object.values(PROPERTIES).map((d) => [d.key, d.defaultValue]));
    expect(parse(raw).unknownKeys).toEqual([]);
  });

  it('unknown keys do not affect values', () => {
    expect(parse({ httpPort: '1' }).config.httpPort).toBe(8081);
  });
});

describe('environmentName', () => {
  it.each([
    ['http.port', 'WCS_HTTP_PORT'],
    ['rtmp.port', 'WCS_RTMP_PORT'],
    ['record_streams', 'WCS_RECORD_STREAMS'],
    ['record_response_content_disposition_header_value', 'WCS_RECORD_RESPONSE_CONTENT_DISPOSITION_HEADER_VALUE'],
    ['some-key.with.dots', 'WCS_SOME_KEY_WITH_DOTS'],
  ])('%s -> %s', (key, env) => {
    expect(environmentName(key)).toBe(env);
  });

  it('every property has a distinct environment name', () => {
    const names = Object.values(PROPERTIES).map((d) => environmentName(d.key));
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('PROPERTIES table', () => {
  it.each(definitions)('%s: default parses and description is present', (_field, definition) => {
    expect(() => definition.parse(definition.defaultValue)).not.toThrow();
    expect(definition.description.length).toBeGreaterThan(0);
  });

  it('keys are unique', () => {
    const keys = Object.values(PROPERTIES).map((d) => d.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('shipped conf/server.properties', () => {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'conf', 'server.properties'), 'utf8');
  const lines = text.split(/\r?\n/);

  it.each(definitions)('%s is mentioned as #key=... or key=...', (_field, definition) => {
    const mention = lines.find((l) => l.startsWith(`#${definition.key}=`) || l.startsWith(`${definition.key}=`));
    expect(mention, `conf/server.properties does not list ${definition.key}`).toBeDefined();
  });

  it.each(definitions)('%s commented default equals PROPERTIES defaultValue', (_field, definition) => {
    const commented = lines.filter((l) => l.startsWith(`#${definition.key}=`));
    for (const line of commented) {
      expect(line.slice(definition.key.length + 2).trim()).toBe(definition.defaultValue);
    }
  });

  it('every #key=value / key=value line names a known key', () => {
    const known = new Set(Object.values(PROPERTIES).map((d) => d.key));
    const keyLines = lines
      .map((l) => /^#?([A-Za-z0-9_.-]+)=/.exec(l)?.[1])
      .filter((k): k is string => k !== undefined);
    expect(keyLines.length).toBeGreaterThanOrEqual(known.size);
    for (const key of keyLines) expect(known.has(key), `unknown key ${key} in conf/server.properties`).toBe(true);
  });
});
