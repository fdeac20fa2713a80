import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createDatabase, PREPARED, type Database } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * Statements marked PREPARED run as named prepared statements, once per distinct text and
 * connection; every other statement stays unnamed (parsed and planned each time).
 */
describe('prepared statements (PREPARED)', () => {
  let testDb: TestDatabase;
  let database: Database;

  before(async () => {
    testDb = await createTestDatabase();
    database = createDatabase({ connectionString: testDb.url, max: 1 });
  });
  after(async () => {
    await database.close();
    await testDb.drop();
  });

  const prepared = async () =>
    (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements order by name`.execute(database.db)).rows;

  test('a marked statement is prepared once per text on its connection and gives the same rows; unmarked ones are not prepared', async () => {
    const { db } = database;
    assert.deepEqual(await prepared(), []);
    for (const value of [1, 2, 3]) {
      const marked = await sql<{ doubled: number }>`${PREPARED} select ${value}::int * 2 as doubled`.execute(db);
      const plain = await sql<{ doubled: number }>`select ${value}::int * 2 as doubled`.execute(db);
      assert.deepEqual(marked.rows, plain.rows);
      assert.deepEqual(marked.rows, [{ doubled: value * 2 }]);
    }
    // A Kysely select marked with modifyFront, and a second marked text.
    const schools = await db.selectFrom('schools').modifyFront(PREPARED).select('id').where('name', '=', 'none').execute();
    assert.deepEqual(schools, []);
    const statements = await prepared();
    assert.equal(statements.length, 2, JSON.stringify(statements));
    for (const statement of statements) {
      assert.match(statement.name, /^p_/);
      assert.ok(statement.statement.includes('/* prepared */'), statement.statement);
    }
  });
});
