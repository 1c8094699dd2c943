import { RtcpPacketConverter, type RtcpPacket } from 'werift';

/**
 * werift parses SR, RR, SDES and feedback RTCP packets and drops the rest,
 * RTCP BYE (203) included, so a publisher saying goodbye (browser
 * pc.close()) would only be noticed by the idle timeout. This wraps
 * werift's RTCP parser once (the same way for every peer connection) to
 * hand on a notice for each BYE; a session listening on its DTLS
 * transport's RTCP ends at once.
 */

export const RTCP_BYE = 203;

/** Stands in the parsed RTCP list for a BYE packet: the SSRCs leaving. */
export class RtcpByeNotice {
  readonly type = RTCP_BYE;
  constructor(readonly ssrcs: readonly number[]) {}
}

/** The SSRCs of the BYE packets in a (compound) RTCP packet (pure). */
export function byeSsrcs(data: Buffer): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos + 4 <= data.length) {
    const first = data[pos]!;
    if (first >> 6 !== 2) break;
    const type = data[pos + 1]!;
    const words = data.readUInt16BE(pos + 2);
    const end = pos + (words + 1) * 4;
    if (end > data.length) break;
    if (type === RTCP_BYE) {
      const count = first & 0x1f;
      for (let i = 0; i < count && pos + 8 + i * 4 <= end; i++) out.push(data.readUInt32BE(pos + 4 + i * 4));
    }
    pos = end;
  }
  return out;
}

let installed = false;

/** Installs the BYE notices into werift's parser (idempotent). */
export function installByeNotices(): void {
  if (installed) return;
  installed = true;
  const original = RtcpPacketConverter.deSerialize.bind(RtcpPacketConverter);
  RtcpPacketConverter.deSerialize = (data: Buffer): RtcpPacket[] => {
    const packets = original(data);
    const ssrcs = byeSsrcs(data);
    // werift's router ignores packet types it does not know; only our listener reads it
    if (ssrcs.length > 0) packets.push(new RtcpByeNotice(ssrcs) as unknown as RtcpPacket);
    return packets;
  };
}
