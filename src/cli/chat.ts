import net from 'node:net';
import { createInterface } from 'node:readline';
import { homeLayout, resolveHome } from '../config/home.ts';
import type { TerminalServerLine } from '../channels/terminal/index.ts';
import { LineReader } from '../protocol/lines.ts';

/** `nanoclaw chat`: a line-based chat with the running gateway over its terminal socket. */
export async function runChat(): Promise<void> {
  const { chatSocket } = homeLayout(resolveHome());
  const sock = net.connect(chatSocket);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (err: NodeJS.ErrnoException) => reject(new Error(
      err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `no gateway is running for ${resolveHome()}: start one with \`nanoclaw start\`.` : err.message)));
  });
  const tty = process.stdout.isTTY;
  const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: tty ? 'you> ' : '' });
  const reader = new LineReader(16 * 1024 * 1024);
  let waiting = 0;
  let inputClosed = false;
  const prompt = () => { if (!inputClosed) rl.prompt(); };
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    for (const text of reader.push(chunk).lines) {
      const line: TerminalServerLine = JSON.parse(text);
      if (line.type === 'ready') process.stdout.write(dim(`connected (conversation ${line.conversation}); /end ends it, /memory on keeps memory, Ctrl-D quits\n`));
      else if (line.type === 'progress') process.stdout.write(dim(line.tool ? `  [${line.tool}] ${line.text}\n` : `  ${line.text}\n`));
      else if (line.type === 'message') {
        if (line.text) process.stdout.write(`${line.kind === 'reply' ? 'agent' : line.kind}> ${line.text}\n`);
        for (const f of line.files ?? []) process.stdout.write(`file> ${f.name} (${f.size} bytes): ${f.path}\n`);
      }
      else if (line.type === 'error') process.stdout.write(`error> ${line.text}\n`);
      else if (line.type === 'turn_end') { waiting--; if (waiting <= 0) { waiting = 0; prompt(); } }
    }
  });
  sock.on('close', () => { process.stdout.write('\ngateway closed the chat\n'); process.exit(0); });
  rl.on('line', (text) => {
    if (!text.trim()) return prompt();
    waiting++;
    sock.write(JSON.stringify({ type: 'message', text }) + '\n');
  });
  rl.on('close', () => {
    inputClosed = true;
    // Ctrl-D or end of piped input: wait for pending answers, then leave.
    const leave = () => (waiting > 0 ? setTimeout(leave, 100) : (sock.end(), process.exit(0)));
    leave();
  });
  rl.prompt();
}
