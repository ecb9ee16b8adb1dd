import pg from 'pg';

/** A new, empty database on the cluster at `adminUrl`; returns its URL. */
export async function freshPostgres(adminUrl: string): Promise<string> {
  const name = `bench_${Date.now()}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
