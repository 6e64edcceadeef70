/**
 * The reference of the API benchmark: the floor of this stack, a bare Express handler doing one
 * INSERT (POST) or one indexed SELECT (GET) with pg on the same database, nothing else.
 */
import express from 'express';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = express();
app.use(express.json());
app.post('/api/1/composes/', async (req, res) => {
  const source = typeof req.body?.source?.source === 'string' ? req.body.source.source : '';
  const { rows } = await pool.query(
    `INSERT INTO composes (owner, source_type, source, state, time_submitted, time_to_expire, arches)
     VALUES ('unknown', 1, $1, 0, now(), now() + interval '1 day', '{x86_64}') RETURNING id`,
    [source],
  );
  res.json({ id: rows[0].id });
});
app.get('/api/1/composes/', async (_req, res) => {
  const { rows } = await pool.query(`SELECT * FROM composes ORDER BY id DESC LIMIT 10`);
  res.json({ items: rows });
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('reference listening\n'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
