import { createDatabase, type Database, type Db } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** A fresh migrated database and a Kysely handle on it (ledger tests call the posting functions directly). */
export async function openLedgerDatabase(): Promise<{ db: Db; close(): Promise<void> }> {
  const database: TestDatabase = await createTestDatabase();
  const handle: Database = createDatabase({ connectionString: database.url, max: 6 });
  return {
    db: handle.db,
    async close() {
      try {
        await handle.close();
      } finally {
        await database.drop();
      }
    },
  };
}

let families = 0;

/** A school, one family with `children` students, and one student without a family. */
export async function insertFamilySchool(db: Db, options: { name?: string; children?: number; timezone?: string } = {}) {
  const school = await db
    .insertInto('schools')
    .values({ name: options.name ?? 'Colegio Miramar', timezone: options.timezone ?? 'America/Mexico_City' })
    .returning('id')
    .executeTakeFirstOrThrow();
  families += 1;
  const family = await db
    .insertInto('families')
    .values({ school_id: school.id, name: 'Mirón', reference: `MIR-${String(families).padStart(6, '0')}-0` })
    .returning('id')
    .executeTakeFirstOrThrow();
  const children: string[] = [];
  for (let i = 0; i < (options.children ?? 2); i++) {
    const row = await db
      .insertInto('students')
      .values({ school_id: school.id, first_name: `Child${i}`, last_name: 'Mirón', grade: '3', family_id: family.id })
      .returning('id')
      .executeTakeFirstOrThrow();
    children.push(row.id);
  }
  const loner = await db
    .insertInto('students')
    .values({ school_id: school.id, first_name: 'Solo', last_name: 'Uno', grade: '5' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { schoolId: school.id, familyId: family.id, children, lonerId: loner.id };
}
