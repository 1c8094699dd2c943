import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  finishMultiRecording,
  MULTI_DESCRIPTION_FILE,
  MULTI_WORK_PREFIX,
  type MultiRecorderDescription,
  type MultiRecorderSettings,
  type MultiRecordInfo,
} from './multi-recorder.js';
import type { ParticipantRecord } from './participant.js';

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.promises.readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/**
 * Multiple recordings a crash interrupted: each work folder left in
 * multi_record_dir holds the recorder's description and its participants'
 * crash-safe files with their descriptions; they are assembled into the
 * recording's MP4 as a terminate would have done. A folder without a
 * description is kept and logged.
 */
export async function recoverMultiRecordings(settings: MultiRecorderSettings, log: Logger): Promise<MultiRecordInfo[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(settings.dir);
  } catch {
    return [];
  }
  const done: MultiRecordInfo[] = [];
  for (const name of names.filter((n) => n.startsWith(MULTI_WORK_PREFIX)).sort()) {
    const workDir = path.join(settings.dir, name);
    // folders from before the recorder's id was kept have no mediaSessionId
    const description = await readJson<Omit<MultiRecorderDescription, 'mediaSessionId'> & { mediaSessionId?: unknown }>(path.join(workDir, MULTI_DESCRIPTION_FILE));
    if (!description) {
      log.error({ workDir }, 'Interrupted multiple recording without its description; folder kept as it is');
      continue;
    }
    const records: ParticipantRecord[] = [];
    for (const file of (await fs.promises.readdir(workDir)).filter((f) => /^participant-\d+\.mp4\.json$/.test(f)).sort()) {
      const record = await readJson<ParticipantRecord>(path.join(workDir, file));
      const media = path.join(workDir, file.replace(/\.json$/, ''));
      if (record && fs.existsSync(media)) records.push({ ...record, file: media });
    }
    try {
      const recorder: MultiRecorderDescription = {
        uri: description.uri,
        mediaSessionId: typeof description.mediaSessionId === 'string' && description.mediaSessionId !== '' ? description.mediaSessionId : randomUUID(),
        startTimeMillis: description.startTimeMillis,
      };
      const info = await finishMultiRecording(recorder, records, workDir, settings, log.child({ multiRecorder: description.uri }));
      if (info) {
        log.info({ multiRecorder: info.uri, file: info.path, participants: info.participants }, 'Recovered an interrupted multiple recording');
        done.push(info);
      }
    } catch {
      // logged by finishMultiRecording; the folder stays for a later try
    }
  }
  return done;
}
