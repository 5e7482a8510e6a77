import { InteractionResponseType, MessageFlags, Routes, type Interaction, type REST } from 'discord.js';
import type { ChannelHost } from '../channel.ts';
import { DISCORD_MAX_CHARS, parseButtonId } from './outbound.ts';

/**
 * A tapped question button (INTERACTION_CREATE): the answer goes to the
 * agent through `host.answer`, and only then is the tap acknowledged to
 * Discord (it must be within 3 s): the question message is updated in place
 * to show the choice and lose its buttons, so nobody taps twice. A tap on a
 * question that is closed gets a note only the tapper sees.
 *
 *   client.on('interactionCreate', (i) => void answers.handle(i));
 */
export class DiscordAnswers {
  constructor(private readonly deps: { host(): ChannelHost | undefined; rest: REST; choices: Map<number, string[]> }) {}

  async handle(i: Interaction): Promise<void> {
    const host = this.deps.host();
    if (!host || !i.isButton()) return;
    try {
      const tapped = parseButtonId(i.customId);
      if (!tapped) return;
      // The value is kept since the send; after a restart the button's own label stands in (labels are the choices).
      const value = this.deps.choices.get(tapped.questionId)?.[tapped.index] ?? labelOf(i.message?.components, i.customId);
      const result = value === undefined ? { ok: false as const, reason: 'that choice is unknown' } : host.answer(tapped.questionId, value, i.user.id);
      if (result.ok) {
        this.deps.choices.delete(tapped.questionId);
        const shown = `${i.message?.content ?? ''}\n\n**→ ${value}**`.trim();
        await this.respond(i.id, i.token, {
          type: InteractionResponseType.UpdateMessage,
          data: { content: shown.slice(0, DISCORD_MAX_CHARS), components: [], allowed_mentions: { parse: [] } },
        });
      } else {
        await this.respond(i.id, i.token, {
          type: InteractionResponseType.ChannelMessageWithSource,
          data: { content: `This question is closed (${result.reason}).`, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } },
        });
      }
    } catch (err) {
      host.log.error(`discord: button ${i.customId} (interaction ${i.id}): ${(err as Error)?.message ?? err}`);
    }
  }

  private respond(id: string, token: string, body: unknown): Promise<unknown> {
    return this.deps.rest.post(Routes.interactionCallback(id, token), { body, auth: false });
  }
}

/** The label of the button with this custom_id in a message's action rows. */
function labelOf(rows: unknown, customId: string): string | undefined {
  for (const row of (Array.isArray(rows) ? rows : []) as Array<{ components?: Array<{ customId?: string; label?: string | null }> }>) {
    for (const c of row.components ?? []) if (c.customId === customId && c.label) return c.label;
  }
  return undefined;
}
