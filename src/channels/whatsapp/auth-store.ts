import { constants, existsSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON, initAuthCreds, proto, type AuthenticationCreds, type AuthenticationState, type SignalDataSet, type SignalDataTypeMap } from 'baileys';

/**
 * The linked device's keys, kept by NanoClaw itself rather than by Baileys'
 * `useMultiFileAuthState` (its own docs say it is a demo): one folder, mode
 * 0700, one JSON file per key, mode 0600, each replaced atomically (written
 * beside, then renamed) so a crash mid-write never leaves half a key, which
 * would cost the pairing. Writes to one file are chained so the last one wins.
 *
 *   const store = await AuthStore.open(join(host.dataDir, 'session'));
 *   const sock = makeWASocket({ auth: store.state }); sock.ev.on('creds.update', () => store.saveCreds());
 */
export class AuthStore {
  private readonly writes = new Map<string, Promise<void>>();

  private constructor(readonly dir: string, readonly state: AuthenticationState) {}

  static async open(dir: string): Promise<AuthStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const creds = (await readJson(join(dir, 'creds.json')) as AuthenticationCreds | null) ?? initAuthCreds();
    let store: AuthStore;
    const keys = {
      get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
        const out: { [id: string]: SignalDataTypeMap[T] } = {};
        await Promise.all(ids.map(async (id) => {
          let value = await readJson(join(dir, keyFile(type, id)));
          if (value && type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
          if (value) out[id] = value as SignalDataTypeMap[T];
        }));
        return out;
      },
      set: async (data: SignalDataSet) => {
        const tasks: Promise<void>[] = [];
        for (const type of Object.keys(data) as Array<keyof SignalDataTypeMap>) {
          for (const [id, value] of Object.entries(data[type] ?? {})) tasks.push(store.write(keyFile(type, id), value ?? null));
        }
        await Promise.all(tasks);
      },
    };
    store = new AuthStore(dir, { creds, keys });
    return store;
  }

  /**
   * The account a phone linked this device to, or undefined when none did
   * yet: creds are saved during a QR attempt too, so the file alone says nothing.
   */
  static async linkedAccount(dir: string): Promise<string | undefined> {
    if (!existsSync(join(dir, 'creds.json'))) return undefined;
    const creds = await readJson(join(dir, 'creds.json')) as AuthenticationCreds | null;
    return creds?.me?.id;
  }

  /** The account this device is linked to, e.g. "15551234567:3@s.whatsapp.net"; undefined before linking. */
  get me(): string | undefined {
    return this.state.creds.me?.id;
  }

  /** Saves the credentials; called on every `creds.update`, or the pairing is lost at the next start. */
  saveCreds(): Promise<void> {
    return this.write('creds.json', this.state.creds);
  }

  private write(file: string, value: unknown): Promise<void> {
    const path = join(this.dir, file);
    const next = (this.writes.get(file) ?? Promise.resolve()).then(() => value === null ? rm(path, { force: true }) : writeAtomically(path, JSON.stringify(value, BufferJSON.replacer)));
    this.writes.set(file, next.catch(() => {}));
    return next;
  }
}

/** Key ids may hold "/" and ":" (jids): never a path of their own. */
function keyFile(type: string, id: string): string {
  return `${type}-${id.replace(/[^A-Za-z0-9._@-]/g, '_')}.json`;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'), BufferJSON.reviver);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`the WhatsApp session file ${path} cannot be read (${(err as Error).message}); run \`nanoclaw setup whatsapp\` to link again`, { cause: err });
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
