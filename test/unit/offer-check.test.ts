import { describe, expect, it } from 'vitest';
import { checkOffer, checkOfferText, MAX_LINE_LENGTH, MAX_MEDIA_SECTIONS } from '../../src/ingest/webrtc/offer-check.js';
import { chooseTracks, parseSdp, SdpError, UnsupportedOfferError } from '../../src/ingest/webrtc/sdp.js';
import { chromiumLikeOffer, fuzzOffer } from '../../src/tools/sdp-fuzz.js';

/** What an offer must hold before an engine sees it: SdpError (400) or UnsupportedOfferError (422). */

const base = chromiumLikeOffer();
const check = (sdp: string): void => {
  checkOfferText(sdp);
  checkOffer(parseSdp(sdp));
};

describe('checkOffer', () => {
  it('takes a Chromium offer', () => {
    expect(() => check(base)).not.toThrow();
    expect(chooseTracks(parseSdp(base)).map((t) => `${t.kind}:${t.name}`)).toEqual(['video:VP8', 'audio:OPUS']);
  });

  it.each([
    ['no payload types', base.replace('m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107', 'm=video 9 UDP/TLS/RTP/SAVPF'), /no payload types/],
    ['payload type 128', base.replace('SAVPF 96 97', 'SAVPF 128 97'), /payload type '128' is not 0-127/],
    ['payload type abc', base.replace('SAVPF 96 97', 'SAVPF abc 97'), /payload type 'abc'/],
    ['no ice-ufrag anywhere', base.replace(/a=ice-ufrag:\S+\r\n/g, ''), /no ICE credentials/],
    ['no ice-pwd anywhere', base.replace(/a=ice-pwd:\S+\r\n/g, ''), /no ICE credentials/],
    ['ufrag with a colon', base.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:ab:cd'), /ice-ufrag/],
    ['pwd of 257 characters', base.replace(/a=ice-pwd:\S+/g, `a=ice-pwd:${'p'.repeat(257)}`), /ice-pwd/],
    ['no fingerprint', base.replace(/a=fingerprint:[^\r]+\r\n/g, ''), /no DTLS fingerprint/],
    ['md5 fingerprint', base.replace(/a=fingerprint:sha-256/g, 'a=fingerprint:md5'), /a=fingerprint must be/],
    ['fingerprint without hex', base.replace(/a=fingerprint:sha-256 \S+/g, 'a=fingerprint:sha-256 xyz'), /a=fingerprint must be/],
    ['setup holdconn', base.replace(/a=setup:actpass/g, 'a=setup:holdconn'), /a=setup/],
    ['mid twice', base.replace('a=mid:1', 'a=mid:0'), /a=mid:0 is used twice/],
    ['port 70000', base.replace('m=video 9 ', 'm=video 70000 '), /port 70000 is out of range/],
    ['kind text', base.replace('m=audio', 'm=text'), /media kind/],
    ['too many sections', base + Array.from({ length: MAX_MEDIA_SECTIONS }, (_, i) => `m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:z${i}\r\n`).join(''), /at most 16/],
    ['a line too long', base.replace('s=-', `s=${'x'.repeat(MAX_LINE_LENGTH)}`), /at most 4096/],
  ])('422 for %s', (_what, sdp, message) => {
    expect(() => check(sdp)).toThrow(UnsupportedOfferError);
    expect(() => check(sdp)).toThrow(message);
  });

  it.each([
    ['NUL', base.replace('s=-', 's=\u0000')],
    ['ESC', base.replace('s=-', 's=\u001b[2J')],
    ['DEL', base.replace('s=-', 's=\u007f')],
  ])('400 for a %s in the body', (_what, sdp) => {
    expect(() => check(sdp)).toThrow(SdpError);
  });

  it('ICE credentials and fingerprint at session level count for every section; a port-0 section needs none', () => {
    const lines = base.split('\r\n');
    const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag'))!;
    const pwd = lines.find((l) => l.startsWith('a=ice-pwd'))!;
    const fp = lines.find((l) => l.startsWith('a=fingerprint'))!;
    const moved = lines.filter((l) => l !== ufrag && l !== pwd && l !== fp);
    moved.splice(4, 0, ufrag, pwd, fp);
    expect(() => check(moved.join('\r\n'))).not.toThrow();
    const rejected = `${base}m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:9\r\n`;
    expect(() => check(rejected)).not.toThrow();
  });

  it('clock rates and channels ffmpeg cannot take are not chosen', () => {
    const sdp = base.replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96 VP8/0');
    // VP8 refused, the next usable codec (H.264 packetization-mode=1) is chosen
    expect(chooseTracks(parseSdp(sdp))[0]!.name).toBe('H264');
  });
});

describe('fuzzOffer', () => {
  it('is deterministic per seed and index', () => {
    expect(fuzzOffer(5, 17)).toEqual(fuzzOffer(5, 17));
    expect(fuzzOffer(5, 17).body).not.toBe(fuzzOffer(5, 18).body);
  });
  it('every offer is either refused with our errors or passes every check (never another exception)', () => {
    for (let i = 0; i < 500; i++) {
      const o = fuzzOffer(99, i);
      try {
        check(o.body);
        chooseTracks(parseSdp(o.body));
      } catch (err) {
        expect(err instanceof SdpError || err instanceof UnsupportedOfferError, `${i} ${JSON.stringify(o.mutations)}: ${String(err)}`).toBe(true);
      }
    }
  });
});
