import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeError, type ContainerExit, type ContainerRuntime, type ContainerSpec } from '../runtime.ts';
import { envFileText, runArgs, sameImage, type DirEntries } from './args.ts';

/** Runs a program with arguments (never through a shell) and reports how it ended. */
export type ExecFn = (file: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * Apple's `container` CLI on macOS: each container is its own lightweight
 * Linux VM (Virtualization.framework), which is a harder boundary than the
 * namespaces Docker and Podman share a kernel through. The CLI has no stable
 * API to talk to instead, so this drives the command, through `exec`.
 *
 *   const runtime = new AppleContainerRuntime();
 *   const c = await runtime.start(spec);   // container run --detach ...
 *
 * What the profile asks for and the CLI cannot express is listed in args.ts
 * and docs/runtimes.md.
 */
export class AppleContainerRuntime implements ContainerRuntime {
  private readonly command: string;
  private readonly exec: ExecFn;
  private readonly pollMs: number;
  private readonly listDir?: (dir: string) => DirEntries;

  constructor(opts: { command?: string; exec?: ExecFn; pollMs?: number; listDir?: (dir: string) => DirEntries } = {}) {
    this.command = opts.command ?? 'container';
    this.exec = opts.exec ?? execFileNoShell;
    this.pollMs = opts.pollMs ?? 1000;
    this.listDir = opts.listDir;
  }

  async start(spec: ContainerSpec): Promise<{ name: string; id: string }> {
    // The environment (the container's token) goes in a private file, not argv,
    // which any local user can read with `ps`. It lives only while `run` reads it.
    const dir = mkdtempSync(join(tmpdir(), 'nanoclaw-env-'));
    const envFile = join(dir, 'env');
    try {
      writeFileSync(envFile, envFileText(spec.env), { mode: 0o600 });
      const r = await this.run(runArgs(spec, { envFile, listDir: this.listDir }));
      if (r.code !== 0) {
        await this.destroy(spec.name, 0).catch(() => {});
        throw new RuntimeError(`could not start container ${spec.name} from ${spec.image} with Apple Container: ${firstLine(r.stderr) || `exit ${r.code}`}. ` +
          'Check `container system status`, and that the image is loaded (`container image list`).');
      }
      return { name: spec.name, id: r.stdout.trim().split('\n').pop() || spec.name };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async destroy(name: string, graceSec = 5): Promise<void> {
    // A failed stop (already stopped, or gone) is fine: delete --force settles it either way.
    await this.run(['stop', `--time=${graceSec}`, name]);
    const r = await this.run(['delete', '--force', name]);
    if (r.code !== 0 && !isNotFound(r.stderr)) {
      throw new RuntimeError(`could not remove container ${name}: ${firstLine(r.stderr) || `exit ${r.code}`}`);
    }
  }

  /**
   * Polls `container inspect` until the container has stopped. The CLI has no
   * command that blocks until a container exits (no `wait`; `run` without
   * --detach would own the container's stdio). Polling is off the hot path:
   * the gateway learns a container is gone from its protocol socket closing,
   * and this only supplies the exit code afterwards, so a second's delay
   * costs nothing.
   */
  async wait(name: string): Promise<ContainerExit> {
    for (;;) {
      const r = await this.run(['inspect', name]);
      if (r.code !== 0) {
        if (isNotFound(r.stderr)) return { exitCode: -1, oomKilled: false };
        throw new RuntimeError(`could not inspect container ${name}: ${firstLine(r.stderr) || `exit ${r.code}`}`);
      }
      const snapshot = parseJson(r.stdout, `container inspect ${name}`)[0];
      if (!snapshot) return { exitCode: -1, oomKilled: false };
      if (snapshot.status === 'stopped') {
        // Releases that record the exit report `exitCode`; an out-of-memory kill inside
        // the VM is not reported apart from other kills.
        return { exitCode: typeof snapshot.exitCode === 'number' ? snapshot.exitCode : -1, oomKilled: false };
      }
      await sleep(this.pollMs);
    }
  }

  /** The CLI lists everything (`--all`); the label filter is applied here. */
  async list(labels: Record<string, string>) {
    const r = await this.run(['list', '--all', '--format=json']);
    if (r.code !== 0) throw new RuntimeError(`could not list containers: ${firstLine(r.stderr) || `exit ${r.code}`}`);
    return (parseJson(r.stdout, 'container list') as any[])
      .map((c) => ({ name: String(c.configuration?.id ?? ''), state: String(c.status ?? 'unknown'), labels: (c.configuration?.labels ?? {}) as Record<string, string> }))
      .filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v));
  }

  async hasImage(image: string): Promise<boolean> {
    const r = await this.run(['image', 'list', '--format=json']);
    if (r.code !== 0) throw new RuntimeError(`could not list images: ${firstLine(r.stderr) || `exit ${r.code}`}`);
    return (parseJson(r.stdout, 'container image list') as any[]).some((i) => typeof i.reference === 'string' && sameImage(i.reference, image));
  }

  async version(): Promise<string> {
    const status = await this.run(['system', 'status']);
    if (status.code !== 0) {
      throw new RuntimeError(`Apple Container's services are not running (${firstLine(status.stderr || status.stdout) || `exit ${status.code}`}). Run \`container system start\`.`);
    }
    const v = await this.run(['--version']);
    return `Apple Container (${firstLine(v.stdout) || 'version unknown'})`;
  }

  private run(args: string[]) {
    return this.exec(this.command, args);
  }
}

/** The default ExecFn: execFile, so no argument is ever interpreted by a shell. */
export const execFileNoShell: ExecFn = (file, args) => new Promise((resolve, reject) => {
  execFile(file, args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
    if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      return reject(new RuntimeError(`the \`${file}\` command is not installed or not on PATH. Install Apple's container (https://github.com/apple/container/releases), then run \`container system start\`.`, { cause: err }));
    }
    const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
    resolve({ code, stdout: String(stdout), stderr: String(stderr) });
  });
});

function isNotFound(stderr: string): boolean {
  return /not ?found/i.test(stderr);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function parseJson(text: string, what: string): any[] {
  try {
    const value = JSON.parse(text);
    return Array.isArray(value) ? value : [value];
  } catch (err) {
    throw new RuntimeError(`\`${what}\` did not print JSON: ${firstLine(text).slice(0, 200)}`, { cause: err });
  }
}
