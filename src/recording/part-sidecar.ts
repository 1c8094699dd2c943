import fs from 'node:fs';
import type { RecordPlan } from './formats.js';
import type { NamingRules } from './naming.js';

/**
 * What is known about a part when it starts, written next to its temp file
 * (`<temp>.json`) so that a part left behind by a crash can be named and
 * finished at the next start-up.
 */
export interface PartSidecar {
  readonly version: 1;
  readonly streamName: string;
  readonly mediaSessionId: string;
  readonly sessionId: string;
  readonly login: string;
  readonly audioCodec: string;
  readonly videoCodec: string;
  readonly naming: NamingRules;
  /** The index in the name (`_N`), or null. */
  readonly nameIndex: number | null;
  readonly plan: RecordPlan;
  readonly startTimeMillis: number;
  readonly firstTimestampMs: number;
  /** The pauses inside the part so far (rewritten at each pause and resume), positions from its first media. */
  readonly pauses?: readonly SidecarPause[];
}

export interface SidecarPause {
  readonly pausedAt: number;
  readonly resumedAt: number | null;
  readonly positionMs: number;
  readonly skippedMs: number;
}

export function sidecarPath(tmpFile: string): string {
  return `${tmpFile}.json`;
}

export function writeSidecar(tmpFile: string, data: PartSidecar): void {
  fs.writeFileSync(sidecarPath(tmpFile), JSON.stringify(data));
}

export async function readSidecar(tmpFile: string): Promise<PartSidecar | null> {
  try {
    const data = JSON.parse(await fs.promises.readFile(sidecarPath(tmpFile), 'utf8')) as PartSidecar;
    return data.version === 1 ? data : null;
  } catch {
    return null;
  }
}

export async function removeSidecar(tmpFile: string): Promise<void> {
  await fs.promises.rm(sidecarPath(tmpFile), { force: true });
}
