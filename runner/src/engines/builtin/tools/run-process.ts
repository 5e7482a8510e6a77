import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { OutputClip } from './output-clip.ts';

/**
 * Runs one child for a tool, in its own process group, so that a timeout or
 * an interrupted turn ends everything the child started: the group gets
 * SIGTERM, then SIGKILL after a grace, and a child that traps SIGTERM cannot
 * hold the turn. stdin is /dev/null (a command waiting for input ends rather
 * than hangs), output is captured within a bound.
 *
 *   const r = await runProcess({ file: 'rg', args: ['--files'], cwd, env, signal, timeoutMs: 30_000, maxChars: 30_000 });
 *   if (r.spawnError) ...; else r.output, r.exitCode, r.stopped
 */
export interface ProcessSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  signal: AbortSignal;
  timeoutMs: number;
  /** Bound on the captured output (head and tail kept). */
  maxChars: number;
  /** Capture stderr into the same output, in arrival order, instead of apart. */
  mergeStderr?: boolean;
  /** Take stdout line by line instead of capturing it; answer false once enough has been read, and the child is stopped. */
  onLine?: (line: string) => boolean | void;
  /** Take stdout as raw bytes instead; answer false once enough has been read, and the child is stopped. */
  onData?: (chunk: Buffer) => boolean | void;
  /** Time between SIGTERM and SIGKILL when stopping; default 2 s. */
  killGraceMs?: number;
}

export interface ProcessResult {
  /** stdout (and stderr when merged), clipped; empty when `onLine` or `onData` took stdout. */
  output: string;
  /** Characters cut from the middle of `output`. */
  cut: number;
  /** stderr, clipped, when not merged. */
  stderr: string;
  exitCode: number | null;
  exitSignal: string | null;
  /** Why the child was stopped before it ended on its own. */
  stopped: 'timeout' | 'aborted' | 'enough' | null;
  /** The child could not be started (ENOENT: no such program; EACCES; a missing cwd). */
  spawnError?: NodeJS.ErrnoException;
  /** The child ended but a process it left running still held its output open; reading stopped there. */
  outputLeftOpen: boolean;
}

/** After the child exits, how long to wait for its output pipes to drain before leaving them to a background process. */
const DRAIN_MS = 300;

export function runProcess(spec: ProcessSpec): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const result: ProcessResult = { output: '', cut: 0, stderr: '', exitCode: null, exitSignal: null, stopped: null, outputLeftOpen: false };
    if (spec.signal.aborted) { result.stopped = 'aborted'; resolve(result); return; }
    const out = new OutputClip(spec.maxChars);
    const err = spec.mergeStderr ? out : new OutputClip(Math.min(spec.maxChars, 4000));
    const grace = spec.killGraceMs ?? 2000;
    let settled = false;
    let partialLine = '';

    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: killing -pid reaches every descendant that stayed in it
    });

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try { process.kill(-child.pid, sig); } catch { /* the group is already gone */ }
    };
    const stop = (why: 'timeout' | 'aborted' | 'enough') => {
      if (result.stopped !== null || settled) return;
      result.stopped = why;
      killGroup('SIGTERM');
      // Not cleared on exit: a grandchild that traps SIGTERM may outlive the child that started it.
      setTimeout(() => killGroup('SIGKILL'), grace);
    };

    const timer = setTimeout(() => stop('timeout'), spec.timeoutMs);
    const onAbort = () => stop('aborted');
    spec.signal.addEventListener('abort', onAbort, { once: true });

    const outDecoder = new StringDecoder('utf8');
    const errDecoder = new StringDecoder('utf8');
    const takeLines = (text: string) => {
      const lines = (partialLine + text).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) {
        if (result.stopped === 'enough') return;
        if (spec.onLine!(line) === false) stop('enough');
      }
    };
    child.stdout.on('data', (b: Buffer) => {
      if (spec.onData) {
        if (result.stopped !== 'enough' && spec.onData(b) === false) stop('enough');
        return;
      }
      const text = outDecoder.write(b);
      if (spec.onLine) takeLines(text); else out.push(text);
    });
    child.stderr.on('data', (b: Buffer) => err.push(errDecoder.write(b)));

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      spec.signal.removeEventListener('abort', onAbort);
      const rest = outDecoder.end();
      if (spec.onLine) {
        if (result.stopped !== 'enough' && partialLine + rest !== '') spec.onLine(partialLine + rest);
      } else out.push(rest);
      err.push(errDecoder.end());
      result.output = out.text();
      result.cut = out.cut;
      if (!spec.mergeStderr) result.stderr = err.text();
      resolve(result);
    };

    child.on('error', (e: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // errors after a successful start (a failed kill) change nothing
      result.spawnError = e;
      finish();
    });
    child.on('exit', (code, sig) => {
      result.exitCode = code;
      result.exitSignal = sig;
      // 'close' waits for the pipes, which a background process (`server &`) may hold for ever.
      const drain = setTimeout(() => {
        result.outputLeftOpen = true;
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, DRAIN_MS);
      child.once('close', () => { clearTimeout(drain); finish(); });
    });
  });
}
