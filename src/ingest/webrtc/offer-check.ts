import { SdpError, UnsupportedOfferError, type ParsedSdp } from './sdp.js';

/**
 * What a publisher's offer must hold before any engine sees it (pure).
 * Unparseable text is SdpError (400); parseable but unusable is
 * UnsupportedOfferError (422). Caps keep a hostile offer cheap.
 */

/** m= lines an offer may have (a browser sends 2-3; simulcast and data channels add a few). */
export const MAX_MEDIA_SECTIONS = 16;
/** Characters of one SDP line (a long fmtp or candidate is ~300). */
export const MAX_LINE_LENGTH = 4096;
/** Lines of one offer (a many-codec Chromium offer has ~300). */
export const MAX_LINES = 2000;

const HASHES = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);
const FINGERPRINT = /^([A-Za-z0-9-]+) ((?:[0-9A-Fa-f]{2}:)+[0-9A-Fa-f]{2})$/;
// RFC 8839 asks ALPHA / DIGIT / "+" / "/" (ufrag 4-256, pwd 22-256); clients differ, so any
// printable ASCII is taken, 1-256 long (the ufrag without ':', the STUN username separator)
const UFRAG = /^[\x21-\x39\x3b-\x7e]{1,256}$/;
const PWD = /^[\x21-\x7e]{1,256}$/;
const SETUP = new Set(['actpass', 'active', 'passive']);
// RFC 5888 token characters (and braces, seen in older Firefox), short: it goes into RTP header extensions
const MID = /^[\x21-\x7e]{1,32}$/;

/** Refuses bodies no SDP parser should see: control characters other than CR, LF and tab (NUL included), too many or too long lines. */
export function checkOfferText(sdp: string): void {
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(sdp);
  if (bad) throw new SdpError(`control character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at offset ${bad.index}`);
  const lines = sdp.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new UnsupportedOfferError(`the offer has ${lines.length} lines; at most ${MAX_LINES} are accepted`);
  const long = lines.findIndex((l) => l.length > MAX_LINE_LENGTH);
  if (long >= 0) throw new UnsupportedOfferError(`line ${long + 1} of the offer is ${lines[long]!.length} characters long; at most ${MAX_LINE_LENGTH} are accepted`);
}

function attribute(lines: readonly string[], name: string): string[] {
  const prefix = `a=${name}:`;
  return lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
}

/** The value of an attribute in the section, else in the session (undefined when neither has it). */
function inherited(session: readonly string[], section: readonly string[], name: string): string[] {
  const own = attribute(section, name);
  return own.length > 0 ? own : attribute(session, name);
}

/**
 * Checks what the WebRTC engines rely on: at most MAX_MEDIA_SECTIONS m= lines,
 * payload types on every m= line (0-127 for RTP), ICE ufrag and pwd, a DTLS
 * fingerprint with a known hash, a valid setup role, unique mids.
 * UnsupportedOfferError naming the section and what is missing.
 */
export function checkOffer(offer: ParsedSdp): void {
  if (offer.sections.length > MAX_MEDIA_SECTIONS) {
    throw new UnsupportedOfferError(`the offer has ${offer.sections.length} media sections; at most ${MAX_MEDIA_SECTIONS} are accepted`);
  }
  const mids = new Set<string>();
  offer.sections.forEach((section, i) => {
    const where = `media section ${i + 1} (${section.kind.slice(0, 16)})`;
    const m = /^m=(\S+) (\d+) (\S+)((?: \S+)*)\s*$/.exec(section.lines[0]!);
    if (!m) throw new UnsupportedOfferError(`${where}: malformed m= line`);
    const port = Number(m[2]);
    if (port > 65535) throw new UnsupportedOfferError(`${where}: port ${m[2]!.slice(0, 12)} is out of range`);
    const formats = m[4]!.trim().split(' ').filter(Boolean);
    if (formats.length === 0) throw new UnsupportedOfferError(`${where}: no payload types on the m= line`);
    if (m[3]!.includes('RTP')) {
      for (const f of formats) {
        if (!/^\d{1,3}$/.test(f) || Number(f) > 127) throw new UnsupportedOfferError(`${where}: payload type '${f.slice(0, 12)}' is not 0-127`);
      }
    }
    if (!['audio', 'video', 'application'].includes(section.kind)) throw new UnsupportedOfferError(`${where}: media kind is not audio, video or application`);
    const mid = attribute(section.lines, 'mid')[0];
    if (mid !== undefined) {
      if (!MID.test(mid)) throw new UnsupportedOfferError(`${where}: a=mid must be 1-32 printable ASCII characters`);
      if (mids.has(mid)) throw new UnsupportedOfferError(`${where}: a=mid:${mid} is used twice`);
      mids.add(mid);
    }
    if (section.direction === 'inactive' || port === 0) return;
    const ufrag = inherited(offer.session, section.lines, 'ice-ufrag');
    const pwd = inherited(offer.session, section.lines, 'ice-pwd');
    if (ufrag.length === 0 || pwd.length === 0) throw new UnsupportedOfferError(`${where}: no ICE credentials (a=ice-ufrag and a=ice-pwd)`);
    if (!UFRAG.test(ufrag[0]!)) throw new UnsupportedOfferError(`${where}: a=ice-ufrag must be 1-256 printable ASCII characters without ':'`);
    if (!PWD.test(pwd[0]!)) throw new UnsupportedOfferError(`${where}: a=ice-pwd must be 1-256 printable ASCII characters`);
    const fingerprints = inherited(offer.session, section.lines, 'fingerprint');
    if (fingerprints.length === 0) throw new UnsupportedOfferError(`${where}: no DTLS fingerprint (a=fingerprint)`);
    for (const fp of fingerprints) {
      const f = FINGERPRINT.exec(fp);
      if (!f || !HASHES.has(f[1]!.toLowerCase())) throw new UnsupportedOfferError(`${where}: a=fingerprint must be '<sha-1|sha-224|sha-256|sha-384|sha-512> XX:XX:...'`);
    }
    const setup = inherited(offer.session, section.lines, 'setup');
    if (setup.length > 0 && !SETUP.has(setup[0]!)) throw new UnsupportedOfferError(`${where}: a=setup must be actpass, active or passive`);
  });
}
