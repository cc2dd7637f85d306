// The bench's peer: the same two routes as wxlogin-server, written the way a performance-minded
// Node team would (fastify 5, fast-jwt HS256, pg with prepared statements, undici keep-alive,
// one worker per core). A login is one jscode2session call and one INSERT … ON CONFLICT …
// RETURNING; /api/me is one token check and one indexed SELECT. It keeps no sessions, so it has
// no logout to honour: it is the floor wxlogin is measured against, not a product.
//
// Configured by the environment: PEER_ADDR (host:port), DATABASE_URL, WECHAT_API_BASE,
// WECHAT_APPID, WECHAT_SECRET, TOKEN_SECRET, WORKERS (default: one per core), DB_POOL_SIZE
// (connections per worker; default: wxlogin's 8, shared among the workers). The table `peer_users` is made by the bench.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

import { createSigner, createVerifier } from 'fast-jwt';
import Fastify from 'fastify';
import pg from 'pg';
import { Pool as HttpPool } from 'undici';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`peer: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const workers = Number(process.env.WORKERS || availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    console.error(`peer: worker ${worker.process.pid} ended (${signal || code})`);
    process.exit(1);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const [host, port] = env('PEER_ADDR').split(':');
  const appid = env('WECHAT_APPID');
  const secret = env('WECHAT_SECRET');
  const ttl = 7200;
  const sign = createSigner({ key: env('TOKEN_SECRET'), algorithm: 'HS256', expiresIn: ttl * 1000 });
  const verify = createVerifier({ key: env('TOKEN_SECRET'), algorithms: ['HS256'] });
  const db = new pg.Pool({
    connectionString: env('DATABASE_URL'),
    max: Number(process.env.DB_POOL_SIZE || Math.ceil(8 / workers)),
  });
  const wechat = new HttpPool(env('WECHAT_API_BASE'), { connections: 32 });

  const app = Fastify({ logger: false });

  // The bench's mixed scenario tags each request with an X-Request-Id to time reads and logins
  // apart; wxlogin echoes the header, so the peer does too (when a request carries one).
  app.addHook('onRequest', (request, reply, done) => {
    const id = request.headers['x-request-id'];
    if (id !== undefined) reply.header('x-request-id', id);
    done();
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.post('/api/login', async (request, reply) => {
    const code = request.body && request.body.code;
    if (typeof code !== 'string' || code.length === 0 || code.length > 128) {
      return reply.code(400).send({ error: 'invalid_code', message: 'code is required' });
    }
    const query = new URLSearchParams({
      appid,
      secret,
      js_code: code,
      grant_type: 'authorization_code',
    });
    const answer = await wechat.request({ method: 'GET', path: `/sns/jscode2session?${query}` });
    // jscode2session answers JSON as text/plain.
    const session = JSON.parse(await answer.body.text());
    if (session.errcode || !session.openid) {
      return reply.code(401).send({ error: 'invalid_code', message: 'WeChat refused the code' });
    }
    const now = Math.floor(Date.now() / 1000);
    const { rows } = await db.query({
      name: 'login',
      text:
        'INSERT INTO peer_users (openid, session_key, created_at, updated_at) VALUES ($1, $2, $3, $3) ' +
        'ON CONFLICT (openid) DO UPDATE SET session_key = EXCLUDED.session_key, updated_at = EXCLUDED.updated_at ' +
        'RETURNING id, nick_name, avatar_url, (xmax = 0) AS created',
      values: [session.openid, session.session_key, now],
    });
    const user = rows[0];
    return {
      token: sign({ sub: String(user.id) }),
      expiresIn: ttl,
      isNewUser: user.created,
      user: { id: String(user.id), nickName: user.nick_name, avatarUrl: user.avatar_url },
    };
  });

  app.get('/api/me', async (request, reply) => {
    const header = request.headers.authorization;
    if (!header || !header.startsWith('Bearer ')) {
      return reply.code(401).send({ error: 'not_logged_in', message: 'no token' });
    }
    let claims;
    try {
      claims = verify(header.slice(7));
    } catch {
      return reply.code(401).send({ error: 'invalid_token', message: 'bad token' });
    }
    const { rows } = await db.query({
      name: 'me',
      text: 'SELECT id, nick_name, avatar_url FROM peer_users WHERE id = $1',
      values: [claims.sub],
    });
    if (rows.length === 0) {
      return reply.code(401).send({ error: 'session_revoked', message: 'no such user' });
    }
    const user = rows[0];
    return { user: { id: String(user.id), nickName: user.nick_name, avatarUrl: user.avatar_url } };
  });

  await app.listen({ host, port: Number(port) });
}
