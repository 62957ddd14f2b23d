import { spawn } from 'node:child_process';

/**
 * Runs a fixture script in a child process until it prints a line matching `ready`, then kills it with
 * SIGKILL (no shutdown of any kind) and resolves with the match: a process dying in the middle of work.
 */
export async function runAndKill(fixture: string, env: Record<string, string>, ready: RegExp): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child never got ready:\n${out}\n${err}`)), 45_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code}):\n${out}\n${err}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return match;
}
