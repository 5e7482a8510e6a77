/**
 * Host tools end to end: the real agent (Claude Agent SDK in its container)
 * calls send_message, send_file and ask_user through the runner's MCP server
 * and the protocol, and a chat channel and the HTTP API see the effects. The
 * stand-in model is told what to call (`tool: <name> <json>`, see
 * src/devtools/fake-anthropic/script.ts) and quotes each tool's result back,
 * so what the agent learned is checked too.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TerminalServerLine } from '../src/channels/terminal/index.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { TestChatChannel } from './support/test-channel.ts';

describe('host tools through a real container (send_message, send_file, ask_user, the outbox folder)', () => {
  let h: Harness;
  let chat: TestChatChannel;
  let buttons: TestChatChannel;

  before(async () => {
    h = await startHarness({ config: { access: { owners: ['testchat:owner', 'buttonchat:owner'] } } });
    chat = new TestChatChannel();
    buttons = new TestChatChannel('buttonchat', { capabilities: { buttons: true } });
    await h.app.gateway.startChannel(chat);
    await h.app.gateway.startChannel(buttons);
  });
  after(async () => { await h?.close(); });

  it('send_message reaches the chat during the turn, before the final reply, and the agent learns it was sent', async () => {
    chat.say('owner', 'owner', 'tool: send_message {"text":"Early news from the agent"}');
    const early = await chat.nextTo('owner');
    assert.equal(early.text, 'Early news from the agent');
    const final = await chat.nextTo('owner');
    assert.match(final.text, /Sent\./, 'the tool result reached the model');
  });

  it('send_file sends the bytes of a workspace file; a link to a host file is refused and the agent is told why', async () => {
    chat.say('send-file', 'owner', 'run: mkdir -p /workspace/out && printf "report body" > /workspace/out/report.txt && ln -s /etc/shadow /workspace/out/shadow');
    await chat.nextTo('send-file');
    // Messages from one sender in one chat; 'send-file' is the chat, the owner the sender.
    chat.say('send-file', 'owner', 'tool: send_file {"path":"/workspace/out/report.txt","caption":"Here it is"}');
    const sent = await chat.nextTo('send-file');
    assert.equal(sent.text, 'Here it is');
    assert.deepEqual(sent.files.map((f) => [f.name, f.data.toString()]), [['report.txt', 'report body']]);
    assert.match((await chat.nextTo('send-file')).text, /Sent report\.txt \(11 bytes\)/);

    chat.say('send-file', 'owner', 'tool: send_file {"path":"out/shadow"}');
    const refused = await chat.nextTo('send-file');
    assert.match(refused.text, /symlink|link/i);
    assert.equal(refused.files.length, 0);
  });

  it('files left in /workspace/outbox are sent after the turn and removed; a planted link is named, not followed', async () => {
    chat.say('outbox', 'owner', 'run: mkdir -p /workspace/outbox && printf "chart data" > /workspace/outbox/chart.csv && ln -s /etc/passwd /workspace/outbox/passwd');
    const messages = [await chat.nextTo('outbox'), await chat.nextTo('outbox'), await chat.nextTo('outbox')];
    const withFile = messages.find((m) => m.files.length);
    assert.deepEqual(withFile?.files.map((f) => [f.name, f.data.toString()]), [['chart.csv', 'chart data']]);
    const notice = messages.find((m) => m.kind === 'notice');
    assert.match(notice?.text ?? '', /Not sent from \/workspace\/outbox:\n- passwd: /);
    chat.say('outbox', 'owner', 'run: ls /workspace/outbox');
    const listing = await chat.nextTo('outbox');
    assert.match(listing.text, /passwd/);
    assert.doesNotMatch(listing.text, /chart\.csv/, 'what was sent is taken out of the outbox');
  });

  it('ask_user shows buttons on a channel that has them; the next message answers, beside the waiting turn', async () => {
    buttons.say('owner', 'owner', 'tool: ask_user {"question":"Which format?","choices":["PDF","HTML"]}');
    const question = await buttons.nextTo('owner');
    assert.equal(question.text, 'Which format?');
    assert.deepEqual(question.buttons, ['PDF', 'HTML']);
    const answer = buttons.say('owner', 'owner', 'HTML');
    assert.ok(answer.accepted && answer.answered, 'the message was taken as the answer');
    const final = await buttons.nextTo('owner');
    assert.match(final.text, /The user answered: HTML/);
  });

  it('ask_user over the HTTP API: the POST returns the question, the answer endpoint returns the rest of the turn', async () => {
    const { status, body } = await h.send('asker', 'tool: ask_user {"question":"Ship it?","choices":["yes","no"]}');
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.done, false);
    assert.equal(body.question.question, 'Ship it?');
    assert.deepEqual(body.question.choices, ['yes', 'no']);
    const open = await (await h.api('/api/v1/conversations/asker/questions')).json();
    assert.deepEqual(open.questions.map((q: any) => q.id), [body.question.id]);

    const wrong = await h.api(`/api/v1/conversations/asker/questions/${body.question.id + 1000}/answer`, { method: 'POST', body: JSON.stringify({ answer: 'yes' }) });
    assert.equal(wrong.status, 404);
    const res = await h.api(`/api/v1/conversations/asker/questions/${body.question.id}/answer`, { method: 'POST', body: JSON.stringify({ answer: 'yes' }) });
    const rest = await res.json();
    assert.equal(res.status, 200, JSON.stringify(rest));
    assert.equal(rest.done, true);
    assert.match(rest.replies.map((r: any) => r.text).join('\n'), /The user chose: yes|The user answered: yes/);
    const again = await h.api(`/api/v1/conversations/asker/questions/${body.question.id}/answer`, { method: 'POST', body: JSON.stringify({ answer: 'no' }) });
    assert.equal(again.status, 404, 'a question is answered once');
  });

  it('files the agent sends over the HTTP API are downloadable from the conversation, and only from it', async () => {
    await h.ask('files', 'run: mkdir -p /workspace/outbox && printf "%s" "csv,1" > /workspace/outbox/data.csv');
    const history = await (await h.api('/api/v1/conversations/files/messages')).json();
    assert.ok(Array.isArray(history.messages));
    const rows = h.app.store.db.prepare("SELECT o.id FROM outbound o JOIN outbound_files f ON f.outbound_id = o.id JOIN conversations c ON c.id = o.conversation_id WHERE c.chat = 'files'").all() as Array<{ id: number }>;
    assert.equal(rows.length, 1);
    const res = await h.api(`/api/v1/conversations/files/files/${rows[0].id}/1`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'csv,1');
    assert.match(res.headers.get('content-disposition') ?? '', /data\.csv/);
    assert.equal((await h.api(`/api/v1/conversations/asker/files/${rows[0].id}/1`)).status, 404, 'another conversation cannot read it');
  });
  it('on the terminal: choices are listed, a number answers, and a sent file is shown as its host copy', async () => {
    const sock = net.connect(h.app.layout.chatSocket);
    const lines: TerminalServerLine[] = [];
    let waiter: (() => void) | undefined;
    let buffered = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      for (let i; (i = buffered.indexOf('\n')) >= 0; buffered = buffered.slice(i + 1)) lines.push(JSON.parse(buffered.slice(0, i)));
      waiter?.();
    });
    const next = async (match: (l: TerminalServerLine) => boolean) => {
      for (;;) {
        const i = lines.findIndex(match);
        if (i >= 0) return lines.splice(0, i + 1)[i];
        await new Promise<void>((r) => { waiter = r; });
      }
    };
    const say = (text: string) => sock.write(JSON.stringify({ type: 'message', text }) + '\n');
    try {
      await next((l) => l.type === 'ready');
      say('tool: ask_user {"question":"Deploy now?","choices":["yes","no"]}');
      const question = await next((l) => l.type === 'message');
      assert.equal(question.type === 'message' && question.text, 'Deploy now?\n\n1. yes\n2. no\n\n(Answer with the number or your own words.)');
      say('2');
      await next((l) => l.type === 'accepted');
      const answered = await next((l) => l.type === 'message' || l.type === 'turn_end');
      assert.equal(answered.type, 'turn_end', 'the answer starts no turn of its own');
      const final = await next((l) => l.type === 'message');
      assert.match(final.type === 'message' ? final.text : '', /The user chose: no/);

      say('run: printf "for the owner" > /workspace/note.txt');
      await next((l) => l.type === 'message');
      say('tool: send_file {"path":"note.txt"}');
      const file = await next((l) => l.type === 'message' && !!l.files?.length);
      const [copy] = file.type === 'message' ? file.files! : [];
      assert.equal(copy.name, 'note.txt');
      assert.ok(copy.path.startsWith(h.app.layout.attachments), 'the path of the host copy, not of the workspace');
      assert.equal(readFileSync(copy.path, 'utf8'), 'for the owner');
    } finally {
      sock.destroy();
    }
  });
});
