import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { IdParams, pageOf } from '../billing/billing.schemas.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createFamiliesRepository } from './families.repository.js';
import { CreateFamilyBody, CreateGuardianBody, FAMILY_SCHEMAS, FamilyListQuery, PatchFamilyBody, PatchGuardianBody } from './families.schemas.js';
import { createFamiliesService } from './families.service.js';
import { registerFamilyStatementRoute } from './statement.routes.js';

/**
 * Families and guardians (SPEC §7): thin routes over the families service. Reads need
 * billing:read (super_admin, school_admin in their schools, finance_analyst with PII
 * masked), writes billing:write; the developer role has neither (403). Another school's
 * family or guardian is a 404 for a school_admin.
 */
export default function familiesRoutes(app: FastifyInstance, options: { db: Db; clock?: Clock; publicUrl?: string }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const families = createFamiliesService({ db: options.db, families: createFamiliesRepository(), schools: createSchoolsRepository() });
  for (const schema of FAMILY_SCHEMAS) {
    api.addSchema(schema);
  }
  const read = { policy: 'billing:read' as const };
  const write = { policy: 'billing:write' as const };
  const tags = ['families'];

  api.get('/families', {
    config: read,
    schema: {
      tags,
      summary: 'Families the caller may see, by school and name',
      description:
        '`q` finds families whose name contains it or whose reference starts with it (the reference only for roles that see PII masked); ' +
        '`reference` finds one family by its payment reference — a reference with a wrong check digit (a mistyped one) is a 422 naming `reference`, ' +
        'one that is well formed but unknown an empty page.',
      querystring: FamilyListQuery,
      response: { 200: pageOf('FamilyListItem'), ...problemResponses(400, 401, 403, 404, 422) },
    },
  }, (request) => families.listFamilies(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/families', {
    config: write,
    schema: {
      tags,
      summary: 'Create a family, with its guardians, in one call',
      description: 'The reference is assigned here (PREFIX-NNNNNN-C, the next number of the school). At most one guardian may be primary; with none marked, the first is.',
      body: CreateFamilyBody,
      response: { 201: Type.Ref('Family'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => reply.status(201).send(await families.createFamily(actorOf(request), request.body)));

  api.get('/families/:id', {
    config: read,
    schema: { tags, summary: 'One family: guardians, students and balance {owed, credit}', params: IdParams, response: { 200: Type.Ref('Family'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => families.getFamily(principalOf(request), request.params.id));

  api.patch('/families/:id', {
    config: write,
    schema: { tags, summary: 'Change a family’s name or preferred language', params: IdParams, body: PatchFamilyBody, response: { 200: Type.Ref('Family'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => families.updateFamily(actorOf(request), request.params.id, request.body));

  api.delete('/families/:id', {
    config: write,
    schema: {
      tags,
      summary: 'Soft-delete a family (and its guardians)',
      description: 'Refused (409) while the family has students, owes anything or holds credit.',
      params: IdParams,
      response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    await families.deleteFamily(actorOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  api.post('/families/:id/guardians', {
    config: write,
    schema: {
      tags,
      summary: 'Add a guardian to a family',
      description: 'isPrimary: true makes this guardian the primary one and the previous primary not, in the same transaction.',
      params: IdParams,
      body: CreateGuardianBody,
      response: { 201: Type.Ref('Guardian'), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => reply.status(201).send(await families.createGuardian(actorOf(request), request.params.id, request.body)));

  api.get('/guardians/:id', {
    config: read,
    schema: { tags, summary: 'One guardian', params: IdParams, response: { 200: Type.Ref('Guardian'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => families.getGuardian(principalOf(request), request.params.id));

  api.patch('/guardians/:id', {
    config: write,
    schema: {
      tags,
      summary: 'Change a guardian',
      description: 'isPrimary: true makes this guardian the primary one and the previous primary not, in the same transaction.',
      params: IdParams,
      body: PatchGuardianBody,
      response: { 200: Type.Ref('Guardian'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => families.updateGuardian(actorOf(request), request.params.id, request.body));

  api.delete('/guardians/:id', {
    config: write,
    schema: {
      tags,
      summary: 'Soft-delete a guardian',
      description: 'A guardian who pays an enrolment still running (not withdrawn, or withdrawn from today on) is kept: 409 GUARDIAN_IS_PAYER naming the enrolments.',
      params: IdParams,
      response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    await families.deleteGuardian(actorOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  registerFamilyStatementRoute(api, { db: options.db, clock: options.clock ?? systemClock, ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }) });
}
