import { describe, expect, it } from 'vitest';
import { bearerToken, queryToken, sameSecret } from '../../src/http/auth.js';
import { openApiDocument, openApiPath, type RouteDoc } from '../../src/http/openapi.js';
import { checkFileTemplate, RecordingConfigError, recordingOverridesOf } from '../../src/http/recording-config.js';
import { parseJournal } from '../../src/records/record-catalog.js';
import { parseProbeJson, ProbeError } from '../../src/records/media-probe.js';
import { filterStreams, matchesStream } from '../../src/streams/stream-filter.js';

describe('stream filter of /stream/find and /stream/terminate', () => {
  const streams = [
    { name: 'a', mediaSessionId: 'id-a', status: 'PUBLISHING' as const },
    { name: 'b', mediaSessionId: 'id-b', status: 'PUBLISHING' as const },
    { name: 'c', mediaSessionId: 'id-c', status: 'UNPUBLISHED' as const },
  ];
  it.each([
    [{}, ['a', 'b', 'c']],
    [{ name: 'a' }, ['a']],
    [{ mediaSessionId: 'id-b' }, ['b']],
    [{ status: 'PUBLISHING' as const }, ['a', 'b']],
    [{ status: 'PLAYING' as const }, []],
    [{ name: 'a', mediaSessionId: 'id-b' }, []],
    [{ name: 'a', status: 'PUBLISHING' as const }, ['a']],
    [{ name: 'A' }, []],
  ])('%j selects %j', (filter, names) => {
    expect(filterStreams(streams, filter).map((s) => s.name)).toEqual(names);
  });

  it('matchesStream needs every field given', () => {
    expect(matchesStream(streams[0]!, { name: 'a', mediaSessionId: 'id-a', status: 'PUBLISHING' })).toBe(true);
    expect(matchesStream(streams[0]!, { name: 'a', mediaSessionId: 'id-a', status: 'FAILED' })).toBe(false);
  });
});

describe('/recorder/startup config', () => {
  it.each([
    ['{streamName}', '{streamName}'],
    ['  test  ', 'test'],
    ['{streamName}-{startTime}-{endTime}', '{streamName}-{startTime}-{endTime}'],
    ['rec {login} é', 'rec {login} é'],
    ['a{b', 'a{b'],
  ])('template %j is accepted as %j', (raw, expected) => {
    expect(checkFileTemplate(raw)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['{foo}', /element \{foo\} is unknown/],
    ['{}', /element \{\} is unknown/],
    ['{StreamName}', /unknown/],
    ['../x', /path separator/],
    ['a/b', /path separator/],
    ['a\\b', /path separator/],
    ['a\nb', /control characters/],
    ['x'.repeat(256), /longer than 255 bytes/],
  ])('template %j is refused', (raw, message) => {
    expect(() => checkFileTemplate(raw)).toThrow(RecordingConfigError);
    expect(() => checkFileTemplate(raw)).toThrow(message);
  });

  it('turns rotation into the recorder override; settings not given follow the server', () => {
    expect(recordingOverridesOf(undefined)).toEqual({});
    expect(recordingOverridesOf({})).toEqual({});
    expect(recordingOverridesOf({ rotation: '20' })).toEqual({ rotation: { kind: 'duration', seconds: 20 } });
    expect(recordingOverridesOf({ rotation: '10M' })).toEqual({ rotation: { kind: 'size', bytes: 10 * 1024 * 1024 } });
    expect(recordingOverridesOf({ rotation: 'disabled', fileTemplate: 'test' })).toEqual({
      rotation: { kind: 'disabled' },
      fileTemplate: 'test',
    });
    for (const bad of ['0', '20s', '-1', 'M', '1.5']) {
      expect(() => recordingOverridesOf({ rotation: bad })).toThrow(RecordingConfigError);
    }
  });
});

describe('tokens', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Basic abc', null],
    ['Bearer', null],
    ['Bearer a b', null],
    ['Bearerabc', null],
  ])('bearerToken(%j) = %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it('queryToken', () => {
    expect(queryToken('/client/records/a.mp4')).toBeNull();
    expect(queryToken('/client/records/a.mp4?start=1&token=x%20y')).toBe('x y');
    expect(queryToken('/client/records/a.mp4?token=')).toBe('');
  });

  it('sameSecret', () => {
    expect(sameSecret('s3cret', 's3cret')).toBe(true);
    expect(sameSecret('s3cre', 's3cret')).toBe(false);
    expect(sameSecret('', 's3cret')).toBe(false);
    expect(sameSecret('S3cret', 's3cret')).toBe(false);
  });
});

describe('OpenAPI document', () => {
  const routes: RouteDoc[] = [
    {
      method: 'POST',
      url: '/rest-api/stream/find',
      schema: {
        summary: 'find',
        body: { type: 'object', additionalProperties: false, properties: { name: { type: 'string' } } },
        response: { 200: { type: 'array' }, 404: { type: 'object' } },
      },
    },
    {
      method: 'GET',
      url: '/client/records/:file',
      schema: {
        params: { type: 'object', properties: { file: { type: 'string' } } },
        querystring: { type: 'object', properties: { start: { type: 'string', description: 's' } } },
        produces: ['video/mp4'],
        response: { 200: { type: 'string', format: 'binary' } },
      },
    },
    { method: 'HEAD', url: '/client/records/:file', schema: {} },
  ];

  it('paths, parameters, bodies and answers come from the route schemas', () => {
    expect(openApiPath('/client/records/:file')).toBe('/client/records/{file}');
    const doc = openApiDocument(routes, { version: '1.2.3', restApiToken: false, recordsAccessToken: false }) as {
      openapi: string;
      info: { version: string };
      paths: Record<string, Record<string, { parameters: unknown[]; requestBody?: unknown; responses: Record<string, unknown>; security?: unknown }>>;
      components?: unknown;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe('1.2.3');
    expect(Object.keys(doc.paths)).toEqual(['/rest-api/stream/find', '/client/records/{file}']);
    const find = doc.paths['/rest-api/stream/find']!.post!;
    expect(find.requestBody).toEqual({ required: true, content: { 'application/json': { schema: routes[0]!.schema.body } } });
    expect(Object.keys(find.responses)).toEqual(['200', '404']);
    expect(find.security).toBeUndefined();
    const get = doc.paths['/client/records/{file}']!.get!;
    expect(get.parameters).toEqual([
      { name: 'file', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'start', in: 'query', required: false, schema: { type: 'string', description: 's' }, description: 's' },
    ]);
    expect(get.responses['200']).toEqual({ description: 'OK', content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } } });
    expect(doc.paths['/client/records/{file}']!.head).toBeUndefined();
    expect(doc.components).toBeUndefined();
  });

  it('names the bearer schemes when tokens are set', () => {
    const doc = openApiDocument(routes, { version: '1', restApiToken: true, recordsAccessToken: true }) as {
      paths: Record<string, Record<string, { security?: unknown }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.paths['/rest-api/stream/find']!.post!.security).toEqual([{ restApiToken: [] }]);
    expect(doc.paths['/client/records/{file}']!.get!.security).toEqual([{ recordsAccessToken: [] }]);
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['restApiToken', 'recordsAccessToken']);
  });
});

describe('record journal and ffprobe answers', () => {
  it('parseJournal keeps the last entry per file and skips broken lines', () => {
    const e = (fileName: string, id: string) =>
      JSON.stringify({ fileName, mediaSessionId: id, streamName: 's', startTimeMillis: 1, endTimeMillis: 2, durationMs: 1 });
    const text = [e('a.mp4', '1'), '{"fileName":"b.mp4"', e('b.mp4', '2'), 'not json', e('a.mp4', '3'), '{"fileName":1}', ''].join('\n');
    const map = parseJournal(text);
    expect([...map.keys()]).toEqual(['a.mp4', 'b.mp4']);
    expect(map.get('a.mp4')!.mediaSessionId).toBe('3');
    expect(parseJournal('').size).toBe(0);
  });

  it('parseProbeJson', () => {
    expect(parseProbeJson('{"format":{"duration":"60.02","format_name":"mov,mp4","tags":{"comment":"wcs-recorder cut"}}}')).toEqual({
      durationSeconds: 60.02,
      formatName: 'mov,mp4',
      comment: 'wcs-recorder cut',
    });
    expect(parseProbeJson('{"format":{"duration":"1"}}')).toEqual({ durationSeconds: 1, formatName: '', comment: '' });
    expect(() => parseProbeJson('{}')).toThrow(ProbeError);
    expect(() => parseProbeJson('{"format":{"duration":"N/A"}}')).toThrow(ProbeError);
    expect(() => parseProbeJson('nope')).toThrow(ProbeError);
  });
});
