import type { ChatChannelModule } from '../registry.ts';

/** Placeholder until the channel is built: enabling it fails with a clear error. */
export const whatsapp: ChatChannelModule<'whatsapp'> = {
  createChannel() { throw new Error('the whatsapp channel is not built yet'); },
  async check() { return { ok: false, detail: 'the whatsapp channel is not built yet' }; },
  setup: { intro: [], secrets: [] },
};
