import { z } from 'zod';

/**
 * `transcription`: who turns voice notes into text. Any OpenAI-compatible
 * `/audio/transcriptions` endpoint (OpenAI, Groq, a local whisper server).
 * The gateway makes the call itself, so the key stays on the host; with an
 * empty `baseUrl` voice notes reach the agent as audio files only.
 */
export const TranscriptionConfig = z.strictObject({
  baseUrl: z.union([z.literal(''), z.url()]).default('')
    .describe('API root of an OpenAI-compatible transcription service, up to and including /v1, e.g. https://api.openai.com/v1, https://api.groq.com/openai/v1 or http://127.0.0.1:8000/v1 (a local whisper server); voice notes are POSTed to <baseUrl>/audio/transcriptions. Empty turns transcription off: the agent gets the audio file and a note saying so.'),
  model: z.string().min(1).default('whisper-1')
    .describe('Transcription model the service is asked for, e.g. whisper-1, gpt-4o-mini-transcribe, whisper-large-v3-turbo (Groq).'),
  apiKeySecret: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a variable name like TRANSCRIPTION_API_KEY').default('TRANSCRIPTION_API_KEY')
    .describe('Name of the environment variable or secrets.json entry that holds the service\'s API key (sent as a bearer token; containers never see it). Unset: no Authorization header, for a local server.'),
  maxBytes: z.number().int().min(1024).default(25 * 1024 * 1024)
    .describe('Largest voice note sent for transcription, in bytes (OpenAI\'s limit is 25 MB); a larger one reaches the agent as audio only, with a note.'),
  timeoutSec: z.number().int().min(1).max(600).default(60)
    .describe('A transcription call that has not answered within this many seconds is given up; the agent gets the audio file with a note that transcription failed.'),
  pricePerMinuteUsd: z.number().min(0).default(0)
    .describe('USD per minute of audio, to count transcriptions against the budget.*CostPerDayUsd limits (e.g. 0.006 for whisper-1); the minutes are the service\'s own figure, or estimated from the file size when it gives none. 0 counts nothing.'),
}).prefault({});

export type TranscriptionSettings = z.infer<typeof TranscriptionConfig>;
