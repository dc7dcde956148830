// Conversations that find their own session, end to end with the real CLI against the mock API: a
// client sending the whole conversation each turn (as the OpenAI SDK does) stays in one session.
import { describe, expect, it } from 'vitest';
import { startGateway, useMockGateway } from '../support/gateway.js';
import { fetchJson } from '../support/process-helpers.js';

const ctx = useMockGateway({ env: { POOL_SIZE: '1' } });

type Msg = { role: string; content: string };
const post = (messages: Msg[]) => fetchJson(`${ctx.gw.url}/v1/chat/completions`, { body: { model: 'sonnet', messages } });
const upstreamMessagesWith = (marker: string) =>
  JSON.stringify(ctx.mock.messageRequests().filter((r) => JSON.stringify(r.body.messages).includes(marker)).at(-1)!.body.messages);

describe('automatic sessions (real CLI)', () => {
  it('keeps a stateless conversation in one session, the upstream seeing real turns, not a rendered transcript', async () => {
    const convo: Msg[] = [{ role: 'user', content: 'turn one AS1' }];
    const one = await post(convo);
    expect(one.status).toBe(200);
    convo.push({ role: 'assistant', content: one.body.choices[0].message.content }, { role: 'user', content: 'turn two AS1' });
    const two = await post(convo);
    expect(two.body.session_id).toBe(one.body.session_id);
    convo.push({ role: 'assistant', content: two.body.choices[0].message.content }, { role: 'user', content: 'turn three AS1' });
    const three = await post(convo);
    expect(three.body.session_id).toBe(one.body.session_id);
    const seen = upstreamMessagesWith('turn three AS1');
    expect(seen).toContain('turn one AS1');
    expect(seen).toContain('turn two AS1');
    expect(seen).not.toContain('conversation_history');
  });

  it('starts fresh for an edited history, and two turn-2s from one turn 1 end in two sessions that both hold it', async () => {
    const first = await post([{ role: 'user', content: 'root AS2' }]);
    const answer = first.body.choices[0].message.content as string;
    const a = await post([{ role: 'user', content: 'root AS2' }, { role: 'assistant', content: answer }, { role: 'user', content: 'branch a AS2' }]);
    const b = await post([{ role: 'user', content: 'root AS2' }, { role: 'assistant', content: answer }, { role: 'user', content: 'branch b AS2' }]);
    expect(a.body.session_id).toBe(first.body.session_id);
    expect(b.body.session_id).not.toBe(first.body.session_id);
    expect(upstreamMessagesWith('branch b AS2')).toContain('root AS2');
    const edited = await post([{ role: 'user', content: 'root AS2' }, { role: 'assistant', content: `${answer} (edited)` }, { role: 'user', content: 'more AS2' }]);
    expect([first.body.session_id, b.body.session_id]).not.toContain(edited.body.session_id);
  });

  it('is off with AUTO_SESSIONS=0', async () => {
    const gw = await startGateway({ mock: ctx.mock, env: { AUTO_SESSIONS: '0', POOL_SIZE: '0' } });
    try {
      const send = (messages: Msg[]) => fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', messages } });
      const one = await send([{ role: 'user', content: 'off AS3' }]);
      const two = await send([{ role: 'user', content: 'off AS3' }, { role: 'assistant', content: one.body.choices[0].message.content }, { role: 'user', content: 'again AS3' }]);
      expect(two.body.session_id).not.toBe(one.body.session_id);
    } finally {
      await gw.close();
    }
  });
});
