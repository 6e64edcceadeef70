/** Where the tests find the real services; the defaults are the machine's own. */
export const ADMIN_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/**
 * The migrated template of this run. Named after the jest process that made it (global setup
 * exports the name to the test workers), so two suites running at once on one server do not
 * drop each other's template.
 */
export function templateDatabase(): string {
  return process.env.ODCS_TEST_TEMPLATE_DATABASE ?? `odcs_test_template_${process.pid}`;
}

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
