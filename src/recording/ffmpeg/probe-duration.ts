import { execFile } from 'node:child_process';

/** Media duration of a file in seconds (ffprobe), or null when it cannot be read. */
export function probeDuration(ffprobe: string, file: string, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(
      ffprobe,
      ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=noprint_wrappers=1:nokey=1', file],
      { timeout: timeoutMs },
      (err, stdout) => {
        const n = Number(String(stdout).trim());
        resolve(err || !Number.isFinite(n) || n <= 0 ? null : n);
      },
    );
  });
}
