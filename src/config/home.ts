import { chmodSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where NanoClaw keeps its state: `$NANOCLAW_HOME`, else `~/.nanoclaw`.
 * Created with mode 0700: it holds the API token, the store and every
 * conversation's files, and no container ever sees it whole.
 */
export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.NANOCLAW_HOME || join(homedir(), '.nanoclaw'));
}

/** The fixed layout under the home folder. */
export function homeLayout(home: string) {
  return {
    home,
    db: join(home, 'nanoclaw.db'),
    config: join(home, 'config.json'),
    apiToken: join(home, 'api-token'),
    chatSocket: join(home, 'chat.sock'),
    /** Per-container socket folders (short names: Unix socket paths are limited to 107 bytes). */
    run: join(home, 'run'),
    /** Per-conversation workspace and engine state. */
    conversations: join(home, 'conversations'),
    /** Persistent memory work trees (mounted into containers) ... */
    memory: join(home, 'memory'),
    /** ... and their history, which containers never see. */
    memoryHistory: join(home, 'memory-history'),
    /** Shared read-only material mounted into every container. */
    global: join(home, 'global'),
    /** Files that came with inbound messages (attachments/<conversation>/<message>/), kept for a retention period; containers never see it. */
    attachments: join(home, 'attachments'),
    gatewayLock: join(home, 'gateway.pid'),
    /** Chat channels' credentials (mode 0600; see config/secrets.ts). */
    secrets: join(home, 'secrets.json'),
    /** Per-channel files (channels/<name>/): caches, sessions; never mounted. */
    channels: join(home, 'channels'),
    /**
     * Skills (src/skills/): every version by content hash, the drafts the
     * agent proposed, and `live/`, the approved and enabled ones laid out as
     * one plugin folder, mounted read-only into every container.
     */
    skills: join(home, 'skills'),
    skillsLive: join(home, 'skills', 'live'),
    /** The dashboard's per-install host name (dashboard/install-name.ts). */
    dashboardName: join(home, 'dashboard-name'),
  };
}

export type HomeLayout = ReturnType<typeof homeLayout>;

export function ensureHome(home: string): HomeLayout {
  const layout = homeLayout(home);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chmodSync(home, 0o700);
  for (const dir of [layout.run, layout.conversations, layout.memory, layout.memoryHistory, layout.attachments, layout.skills]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  // Readable by the container's user: it is mounted read-only into every container.
  mkdirSync(layout.global, { recursive: true });
  chmodSync(layout.global, 0o755);
  mkdirSync(layout.skillsLive, { recursive: true });
  chmodSync(layout.skillsLive, 0o755);
  return layout;
}
