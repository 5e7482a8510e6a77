import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let n = 0;

/**
 * A host folder the agent names in a planted link and must not change: a file
 * inside and an unusual mode, with a snapshot of its owner, mode and contents
 * to compare before and after.
 *
 *   const host = hostFolder(root); ...attack...; assert.deepEqual(host.snap(), host.before);
 */
export function hostFolder(root: string) {
  const dir = join(root, `host-${++n}`);
  mkdirSync(dir);
  chmodSync(dir, 0o750);
  writeFileSync(join(dir, 'keep.txt'), 'host data');
  const snap = () => {
    const st = statSync(dir);
    return { uid: st.uid, gid: st.gid, mode: st.mode, files: readdirSync(dir).sort(), keep: readFileSync(join(dir, 'keep.txt'), 'utf8') };
  };
  return { dir, before: snap(), snap };
}
