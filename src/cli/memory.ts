import { existsSync } from 'node:fs';
import { homeLayout, resolveHome } from '../config/home.ts';
import { MemoryRepo } from '../memory/memory-repo.ts';
import { conversationIdFromArgument } from '../store/store.ts';

/** `nanoclaw memory log <conversation>`: every recorded change to a conversation's memory. */
export async function runMemoryLog(conversation: string): Promise<void> {
  const layout = homeLayout(resolveHome());
  const id = conversationIdFromArgument(conversation);
  const repo = new MemoryRepo(layout, id);
  if (!existsSync(repo.gitDir)) {
    throw new Error(`conversation ${conversation} has no persistent memory (turn it on with /memory on in the conversation).`);
  }
  const log = await repo.log();
  process.stdout.write(log || 'memory is on, but the agent has not changed it yet\n');
}
