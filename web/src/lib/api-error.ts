/**
 * An RFC 9457 problem as the API answers it, and the error the dashboard's HTTP client
 * (api.ts) throws with it. Apart from api.ts, which needs the browser, so that code
 * reading refusals (problems.ts) runs in Node's tests too.
 */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  requestId?: string;
  errors?: { field: string; message: string }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `request failed with ${problem.status}`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
  }
}
