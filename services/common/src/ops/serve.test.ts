import { Agent, request } from 'node:http';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serve } from './serve.js';

type Answer = { status: number; connection: string | undefined; body: string };

/** One GET over `agent`; resolves with the answer or the socket error's code. */
function get(agent: Agent, port: number, path: string): Promise<Answer | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

const within = <T>(ms: number, promise: Promise<T>) =>
  Promise.race([promise, new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), ms))]);

let release: () => void = () => {};
let slowStarted = false;
let hangStarted = false;
const app = new Hono()
  .get('/fast', (c) => c.text('ok'))
  .get('/slow', async (c) => {
    await new Promise<void>((r) => {
      release = r;
      slowStarted = true;
    });
    return c.text('finished');
  })
  .get('/hang', () => {
    hangStarted = true;
    return new Promise<Response>(() => {});
  });

const agents: Agent[] = [];
beforeEach(() => {
  slowStarted = false;
  hangStarted = false;
});
function keepAliveAgent(): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  return agent;
}
afterEach(() => {
  for (const agent of agents.splice(0)) agent.destroy();
});

describe('serve', () => {
  it('stops although a client keeps its connection busy, after finishing the request in flight', async () => {
    const server = await serve(app, 0, { hostname: '127.0.0.1', graceMs: 60_000 });
    const poller = keepAliveAgent();
    // A scraper that never lets its one keep-alive connection sit idle for long.
    let polling = true;
    const answers: (Answer | string)[] = [];
    const polls = (async () => {
      while (polling) {
        answers.push(await get(poller, server.port, '/fast'));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await expect.poll(() => answers.length).toBeGreaterThanOrEqual(3);
    const slow = get(keepAliveAgent(), server.port, '/slow');
    await expect.poll(() => slowStarted).toBe(true);

    const closed = server.close();
    setTimeout(() => release(), 200);

    expect(await within(3000, closed)).toBeUndefined();
    expect(await slow).toEqual({ status: 200, connection: 'close', body: 'finished' });
    polling = false;
    await polls;
    const served = answers.filter((a): a is Answer => typeof a !== 'string');
    expect(served.every((a) => a.status === 200 && a.body === 'ok')).toBe(true);
    // The poller was told to hang up or found the door shut; it never waited on a dead connection.
    expect(answers.slice(served.length).every((a) => a === 'ECONNREFUSED' || a === 'ECONNRESET')).toBe(true);
    expect(await get(keepAliveAgent(), server.port, '/fast')).toBe('ECONNREFUSED');
  });

  it('tells a client whose request is in flight to hang up, so it never reuses a closing connection', async () => {
    const server = await serve(app, 0, { hostname: '127.0.0.1', graceMs: 60_000 });
    const agent = keepAliveAgent();
    const slow = get(agent, server.port, '/slow');
    await expect.poll(() => slowStarted).toBe(true);
    const closed = server.close();
    // Queued behind /slow on the agent's one connection: it must go out on a new one, and be refused.
    const next = get(agent, server.port, '/fast');
    release();
    expect(await slow).toEqual({ status: 200, connection: 'close', body: 'finished' });
    expect(await next).toBe('ECONNREFUSED');
    expect(await within(3000, closed)).toBeUndefined();
  });

  it('cuts a request still unanswered after the grace period', async () => {
    const server = await serve(app, 0, { hostname: '127.0.0.1', graceMs: 300 });
    const hung = get(keepAliveAgent(), server.port, '/hang');
    await expect.poll(() => hangStarted).toBe(true);
    const started = Date.now();
    expect(await within(3000, server.close())).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await hung).toBe('ECONNRESET');
  });
});
