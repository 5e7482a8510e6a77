import { createSdkMcpServer, tool, type McpSdkServerConfigWithInstance } from '@anthropic-ai/claude-agent-sdk';
import { CONTAINER_PATHS, HostToolInputs, LIMITS, type HostToolInput, type HostToolName, type HostToolResult } from '../../../src/protocol/messages.ts';

/** The MCP server's name: the model sees its tools as `mcp__nanoclaw__<tool>`. */
export const HOST_TOOLS_SERVER = 'nanoclaw';

/** Runs one host tool for the running turn; see HostToolCaller. */
export type RunHostTool = <T extends HostToolName>(tool: T, input: HostToolInput<T>) => Promise<HostToolResult>;

/**
 * The host's tools (HOST_TOOLS) as an in-process MCP server for the Claude
 * Agent SDK, passed in `mcpServers`. The descriptions are what the model
 * knows of them, so they say what each does, when to use it, and what
 * happens anyway without it. The input shapes are the protocol's own, so the
 * SDK refuses an input the host would refuse before it reaches the runner.
 * The host's answer is the tool's result; its error an MCP error result.
 *
 *   const server = hostToolsServer((tool, input) => hostTools.call(turnId(), tool, input));
 *   query({ prompt, options: { mcpServers: { [HOST_TOOLS_SERVER]: server } } });
 */
export function hostToolsServer(run: RunHostTool): McpSdkServerConfigWithInstance {
  const outbox = `${CONTAINER_PATHS.workspace}/outbox`;
  return createSdkMcpServer({
    name: HOST_TOOLS_SERVER,
    version: '1.0.0',
    // Always in the prompt, never deferred behind tool search: the model
    // should know from the first turn that it can reach the person.
    alwaysLoad: true,
    tools: [
      tool('send_message',
        'Send a message to the person you are working for right now, while you keep working: a progress note, ' +
        'a partial result, a heads-up before something slow. Your reply at the end of the turn is sent anyway, ' +
        `so use this only for what should reach them before it. Markdown is fine; at most ${LIMITS.callText} characters. ` +
        'Returns once the message is on its way.',
        HostToolInputs.send_message.shape,
        async (input) => asToolResult(await run('send_message', input))),
      tool('send_file',
        `Send a file from your workspace to the person now, with an optional caption. \`path\` names a file under ${CONTAINER_PATHS.workspace}, ` +
        `absolute (${CONTAINER_PATHS.workspace}/report.pdf) or relative to ${CONTAINER_PATHS.workspace} (report.pdf); files elsewhere cannot be sent. ` +
        `Files you put in ${outbox} are sent after the turn anyway: use this tool when the file should arrive before your reply.`,
        HostToolInputs.send_file.shape,
        async (input) => asToolResult(await run('send_file', input))),
      tool('ask_user',
        'Ask the person a question and wait for their answer, which this tool returns as text. Use it when you cannot ' +
        'go on well without them (a choice only they can make, a missing detail); it may take them minutes to answer. ' +
        `Offer \`choices\` (up to ${LIMITS.choices} short options) when the answer is one of a few; they may still answer in their own words.`,
        HostToolInputs.ask_user.shape,
        async (input) => asToolResult(await run('ask_user', input))),
      tool('compose_mail',
        'Write a new email (not a reply) to up to ' + `${LIMITS.recipients} addresses, with a subject and a plain-text body. ` +
        'Nothing is sent until the person you work for confirms: they are shown the draft (recipients, subject, body) ' +
        'and asked "Send" or "Don\'t send", and this tool returns whether it was sent. Only your owner can have mail sent, ' +
        'so the tool is refused in anyone else\'s conversation. It needs the email or Gmail channel running; when both are, ' +
        'name one in `via`. To answer a mail in its thread, reply normally instead.',
        HostToolInputs.compose_mail.shape,
        async (input) => asToolResult(await run('compose_mail', input))),
    ],
  });
}

function asToolResult(r: HostToolResult): { content: Array<{ type: 'text'; text: string }>; isError?: boolean } {
  return r.ok ? { content: [{ type: 'text', text: r.text }] } : { content: [{ type: 'text', text: r.error }], isError: true };
}
