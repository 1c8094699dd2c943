import { execFile } from 'node:child_process';

function run(ffprobe: string, args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(ffprobe, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => resolve(err ? null : String(stdout)));
  });
}

/**
 * Media duration of a file in seconds, or null when it cannot be read. A
 * file cut short by a crash (Matroska without its Duration element, say)
 * has no container duration: then the end of its last packet counts.
 */
export async function probeDuration(ffprobe: string, file: string, timeoutMs = 60_000): Promise<number | null> {
  const format = await run(ffprobe, ['-v', 'error', '-show_entries', 'format=duration:stream=start_time', '-of', 'json', file], timeoutMs);
  if (format === null) return null;
  let start = 0;
  try {
    const parsed = JSON.parse(format) as { format?: { duration?: string }; streams?: { start_time?: string }[] };
    const d = Number(parsed.format?.duration);
    if (Number.isFinite(d) && d > 0) return d;
    const starts = (parsed.streams ?? []).map((s) => Number(s.start_time)).filter(Number.isFinite);
    start = starts.length > 0 ? Math.min(...starts) : 0;
  } catch {
    return null;
  }
  const packets = await run(ffprobe, ['-v', 'error', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file], timeoutMs);
  if (packets === null) return null;
  let end = 0;
  for (const line of packets.split('\n')) {
    const [pts, dur] = line.split(',').map(Number);
    if (pts !== undefined && Number.isFinite(pts)) end = Math.max(end, pts + (dur !== undefined && Number.isFinite(dur) ? dur : 0));
  }
  const d = end - start;
  return d > 0 ? d : null;
}
