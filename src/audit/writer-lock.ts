import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { isAlive } from '../config/gateway-pid.ts';

/**
 * One writer per audit log, across processes. Two writers would each continue
 * the chain from the same record: a fork, which verify then reports as
 * reordered records. The gateway holds the log while it runs, so a command
 * that wants something recorded sends it through the gateway, or opens the
 * log itself only when no gateway runs.
 *
 * `<log>.lock` holds the writer's pid. A lock whose process is gone (a
 * crash) is taken over. Two processes taking over the same stale lock at the
 * same instant can both succeed; the gateway's own pid lock makes that moot.
 *
 *   const release = acquireWriterLock('/home/me/.nanoclaw/audit.log');
 *   ...; release();
 */
export function acquireWriterLock(logFile: string): () => void {
  const file = `${logFile}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
      return () => {
        if (readPid(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(file);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new Error(`process ${holder} is writing it (a running gateway?). Record through that process or stop it first; if it is not NanoClaw, delete ${file}.`);
    }
    rmSync(file, { force: true });
  }
  throw new Error(`could not take the writer lock ${file}: other processes keep taking it`);
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

