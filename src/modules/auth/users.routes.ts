import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problemResponses } from '../../plugins/errors.js';
import { PageQuery } from '../../shared/pagination.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { CreateUserBody, IdParams, UpdateUserBody, User } from './auth.schemas.js';
import { actorOf } from './auth.routes.js';
import type { UsersService } from './users.service.js';

export default function usersRoutes(app: FastifyInstance, options: { users: UsersService }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { users } = options;
  api.addSchema(User);
  const config = { policy: 'users:manage' as const };
  const tags = ['users'];

  api.get(
    '/users',
    {
      config,
      schema: {
        tags,
        summary: 'List users (creation order)',
        querystring: PageQuery,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('User')), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    (request) => users.list({ limit: request.query.limit ?? DEFAULT_PAGE_SIZE, cursor: request.query.cursor }),
  );

  api.get(
    '/users/:id',
    {
      config,
      schema: { tags, summary: 'One user', params: IdParams, response: { 200: Type.Ref('User'), ...problemResponses(400, 401, 403, 404) } },
    },
    (request) => users.get(request.params.id),
  );

  api.post(
    '/users',
    {
      // billing:write, not users:manage: a school_admin may make a guardian user of a guardian
      // of their schools (SPEC §8); every other user needs users:manage (the service checks).
      config: { policy: 'billing:write' as const },
      schema: {
        tags,
        summary: 'Create a user (super_admin; a school_admin may create guardian users of their schools)',
        body: CreateUserBody,
        response: { 201: Type.Ref('User'), ...problemResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => reply.status(201).send(await users.create(request.body, actorOf(request))),
  );

  api.patch(
    '/users/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Change role, password, active flag or assigned schools',
        description: 'Any change of password, role, schools or deactivation ends the user’s sessions.',
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: Type.Ref('User'), ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    (request) => users.update(request.params.id, request.body, actorOf(request)),
  );
}
