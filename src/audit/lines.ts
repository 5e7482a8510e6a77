import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The audit log's file, line by line, without holding it all in memory: the
 * log only grows, and reading it must not cost the gateway (or `nanoclaw
 * audit`) memory in proportion to its age.
 *
 * Lines are split on the `\n` byte. A last segment without one is yielded with
 * `complete: false`: that is what a write cut short by a crash leaves behind.
 */
export interface Line {
  /** 1-based line number (forward reading only; 0 when read backwards). */
  no: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  bytes: Buffer;
  complete: boolean;
}

const CHUNK = 1 << 20;

/** Every line of `file` from the first; nothing when the file does not exist. */
export function* linesForward(file: string): Generator<Line> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const chunk = Buffer.alloc(CHUNK);
    let carry = Buffer.alloc(0);
    let carryOffset = 0;
    let no = 0;
    for (let pos = 0; ;) {
      const n = readSync(fd, chunk, 0, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
        yield { no: ++no, offset: carryOffset + start, bytes: Buffer.from(buf.subarray(start, nl)), complete: true };
        start = nl + 1;
      }
      carryOffset += start;
      carry = Buffer.from(buf.subarray(start));
    }
    if (carry.length) yield { no: ++no, offset: carryOffset, bytes: carry, complete: false };
  } finally {
    closeSync(fd);
  }
}

/**
 * The lines of an open file from the last, for finding where the chain ends
 * without reading what came before it. The caller stops iterating when it has
 * seen enough.
 */
export function* linesBackward(fd: number, size: number): Generator<Line> {
  let buf = Buffer.alloc(0);
  let bufStart = size;
  let last = true;
  for (;;) {
    const nl = buf.lastIndexOf(0x0a);
    if (nl < 0 && bufStart > 0) {
      const n = Math.min(CHUNK, bufStart);
      const chunk = Buffer.alloc(n);
      let got = 0;
      while (got < n) got += readSync(fd, chunk, got, n - got, bufStart - n + got);
      bufStart -= n;
      buf = Buffer.concat([chunk, buf]);
      continue;
    }
    // The segment after the newline (or the whole rest at the file's start).
    const segment = buf.subarray(nl + 1);
    // The file's final segment is empty when the file ends with a newline.
    if (!(last && segment.length === 0)) {
      yield { no: 0, offset: bufStart + nl + 1, bytes: Buffer.from(segment), complete: !last };
    }
    last = false;
    if (nl < 0) return;
    buf = buf.subarray(0, nl);
  }
}
