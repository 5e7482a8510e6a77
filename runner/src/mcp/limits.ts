/**
 * Longest one MCP tool call may take, in either engine, before it is given
 * up with an error the model reads. Long enough for a slow API behind a
 * server, short enough that a hung server cannot hold a turn for long.
 */
export const MCP_CALL_TIMEOUT_MS = 120_000;
