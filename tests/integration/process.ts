/**
 * A server program in a child process (the x-cli-lin executable, or `npm start`'s hosts/node/start.ts):
 * its stdout and stderr captured — the setup code is printed there — and every wait bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServerProcess {
  /** From the program's `xsdot listening on <url>` line. */
  url: string;
  /** Everything the program wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts `command`; resolves once it prints that it listens, rejects (and kills it) after `timeoutMs`. */
export async function spawnServer(command: string, args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const child = spawn(command, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text; });
  child.stderr.setEncoding('utf8').on('data', (text: string) => { output += text; });
  const stop = async () => {
    child.kill('SIGTERM');
    if (!(await exited(child, 5000))) {
      child.kill('SIGKILL');
      await exited(child, 5000);
    }
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${command} did not start within ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
    const check = () => {
      const match = /xsdot listening on (http:\/\/\S+)/.exec(output);
      if (match) finish(undefined, match[1]);
    };
    const onExit = () => finish(new Error(`${command} exited (${child.exitCode ?? child.signalCode}); output:\n${output}`));
    function finish(error: Error | undefined, value?: string) {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as string);
    }
    child.stdout.on('data', check);
    child.once('exit', onExit);
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, output: () => output, stop };
}
