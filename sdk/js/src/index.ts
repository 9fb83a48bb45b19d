// The favcrm client: every operation of the REST API by name, typed from the OpenAPI document
// (src/generated), with what the API asks of a careful client done for you:
//
// - an API key (fav_mcp_… for agents, fav_sk_… for app back ends), an OAuth access token (or a
//   function that returns a fresh one), or a publishable key (fav_pk_…) in a browser;
// - an Idempotency-Key on every POST, kept across the client's own retries (429, 503, network);
// - RFC 9457 problems thrown as FavcrmError, with `code`, `status` and the fields at fault, and
//   subclasses for the answers a program acts on (confirmation, approval, rate limit, not found);
// - the confirmation flow (show the preview to the person, then repeat with the token) and the
//   approval flow (wait until a person decides) as helpers;
// - cursor pagination as async iterators.

import {
  type CallOptions,
  OperationMethods,
  type Operations,
  type PagedOperation,
  type PublishableOperation,
  operations,
} from "./generated/operations.js";

export type { components } from "./generated/openapi.js";
export { operations };
export type { CallOptions, Operations, PagedOperation, PublishableOperation };

/** An operation's name. */
export type OperationName = keyof Operations;
/** What an operation takes (path, query and body members together). */
export type Input<N extends OperationName> = Operations[N]["input"];
/** What an operation answers. */
export type Output<N extends OperationName> = Operations[N]["output"];
/** One item of a paged operation's answer. */
export type Item<N extends PagedOperation> = Output<N> extends { items: Array<infer T> } ? T : never;

export interface FavcrmOptions {
  /** The server, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** An API key: fav_mcp_… (agent) or fav_sk_… (app back end). */
  apiKey?: string;
  /** An OAuth access token (fav_oat_…), or a function returning a current one (it is called per request). */
  accessToken?: string | (() => string | Promise<string>);
  /**
   * A publishable key (fav_pk_…) for a web page: only the operations a page may call
   * (list_services, get_available_slots, create_booking, …); the server checks the page's origin.
   */
  publishableKey?: string;
  /** Retries of a request answered 429 or 503, or lost to the network (same Idempotency-Key). Default 2. */
  retries?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Makes an Idempotency-Key (default: crypto.randomUUID()). */
  idempotencyKey?: () => string;
}

/** The RFC 9457 problem the server answers a refusal with. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ field: string; code: string; detail: string }>;
  [member: string]: unknown;
}

/** A refusal: the server's problem, with its stable `code`. */
export class FavcrmError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  /** The fields at fault (validation_failed and others). */
  readonly errors: Array<{ field: string; code: string; detail: string }>;
  readonly problem: Problem;
  readonly requestId: string | null;

  constructor(problem: Problem, requestId: string | null) {
    super(`${problem.code}: ${problem.detail}`);
    this.name = new.target.name;
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.problem = problem;
    this.requestId = requestId;
  }

  /** The first error about `field`, if any. */
  fieldError(field: string): { field: string; code: string; detail: string } | undefined {
    return this.errors.find((e) => e.field === field);
  }
}

/** 428: an agent key's destructive call waits for the person's confirmation. */
export class ConfirmationRequired extends FavcrmError {
  /** Send it back (same input) once the person agrees. */
  get confirmationToken(): string {
    return String(this.problem.confirmationToken ?? "");
  }
  /** What the confirmed call would do: the record it acts on and the effect. */
  get preview(): unknown {
    return this.problem.preview;
  }
}

/** 202: an agent key's call waits for a person's approval; nothing is done yet. */
export class ApprovalRequired extends FavcrmError {
  get approvalId(): string {
    return String(this.problem.approvalId ?? "");
  }
  /** The approval, with the snapshot of exactly what approving carries out. */
  get approval(): Output<"get_approval"> {
    return this.problem.approval as Output<"get_approval">;
  }
}

/** 429: too many requests; `retryAfterSeconds` says when to come back. */
export class RateLimited extends FavcrmError {
  get retryAfterSeconds(): number {
    return Number(this.problem.retryAfterSeconds ?? 1);
  }
}

/** 404: the record named does not exist in the caller's organisation. */
export class NotFound extends FavcrmError {}

/** 401: the key or token is missing, unknown, revoked or expired. */
export class Unauthorized extends FavcrmError {}

function errorFor(problem: Problem, requestId: string | null): FavcrmError {
  if (problem.status === 428 || problem.code === "confirmation_required") return new ConfirmationRequired(problem, requestId);
  if (problem.code === "approval_required") return new ApprovalRequired(problem, requestId);
  if (problem.status === 429) return new RateLimited(problem, requestId);
  if (problem.status === 404) return new NotFound(problem, requestId);
  if (problem.status === 401) return new Unauthorized(problem, requestId);
  return new FavcrmError(problem, requestId);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Favcrm extends OperationMethods {
  readonly #options: FavcrmOptions;
  readonly #fetch: typeof fetch;

  constructor(options: FavcrmOptions) {
    super();
    const given = [options.apiKey, options.accessToken, options.publishableKey].filter((c) => c !== undefined);
    if (given.length > 1) throw new TypeError("Give one of apiKey, accessToken and publishableKey.");
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async #authorization(): Promise<string | null> {
    const { apiKey, accessToken, publishableKey } = this.#options;
    const token = apiKey ?? publishableKey ?? (typeof accessToken === "function" ? await accessToken() : accessToken);
    return token ? `Bearer ${token}` : null;
  }

  /** Calls an operation by name with its whole input; resolves to its answer, or throws a FavcrmError. */
  async call<N extends OperationName>(name: N, input: Input<N>, options: CallOptions = {}): Promise<Output<N>> {
    const spec = operations[name];
    if (!spec) throw new TypeError(`${String(name)} is not a favcrm operation.`);
    if (this.#options.publishableKey && !spec.publishable) {
      throw new TypeError(`${String(name)} cannot be called with a publishable key; use an API key on a server.`);
    }
    const values: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    let path = spec.path;
    for (const param of spec.pathParams) {
      const value = values[param];
      if (value === undefined || value === null) throw new TypeError(`${String(name)} needs ${param}.`);
      path = path.replace(`{${param}}`, encodeURIComponent(String(value)));
      delete values[param];
    }
    const url = new URL(this.#options.baseUrl + path);
    const headers: Record<string, string> = { accept: "application/json" };
    let body: string | undefined;
    if (spec.method === "GET") {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined || value === null) continue;
        url.searchParams.set(key, typeof value === "object" ? JSON.stringify(value) : String(value));
      }
    } else {
      headers["content-type"] = "application/json";
      body = JSON.stringify(values);
    }
    if (spec.method === "POST" && !spec.public && !this.#options.publishableKey) {
      headers["idempotency-key"] = options.idempotencyKey ?? (this.#options.idempotencyKey ?? (() => crypto.randomUUID()))();
    }
    if (options.confirmationToken) headers["confirmation-token"] = options.confirmationToken;
    const retries = this.#options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      const authorization = spec.public ? null : await this.#authorization();
      if (authorization) headers.authorization = authorization;
      else delete headers.authorization;
      let res: Response;
      try {
        res = await this.#fetch(url, { method: spec.method, headers, body, signal: options.signal });
      } catch (error) {
        if (attempt < retries && !options.signal?.aborted) {
          await sleep(200 * 2 ** attempt);
          continue;
        }
        throw error;
      }
      const requestId = res.headers.get("x-request-id");
      if ((res.status === 429 || res.status === 503) && attempt < retries) {
        const wait = Number(res.headers.get("retry-after") ?? "1");
        await res.body?.cancel();
        await sleep(Math.min(Number.isFinite(wait) ? wait : 1, 30) * 1000);
        continue;
      }
      const text = await res.text();
      const parsed: unknown = text ? JSON.parse(text) : null;
      if (res.status === spec.success || (res.ok && res.status !== 202)) return parsed as Output<N>;
      const problem =
        parsed && typeof parsed === "object" && "code" in parsed
          ? (parsed as Problem)
          : { status: res.status, code: `http_${res.status}`, detail: text || res.statusText };
      throw errorFor(problem, requestId);
    }
  }

  /**
   * Every item of a paged operation, page after page (`limit` sets the page size).
   *
   *     for await (const customer of fav.paginate("list_customers", { tag: "vip" })) { … }
   */
  async *paginate<N extends PagedOperation>(name: N, input: Input<N> = {} as Input<N>, options: CallOptions = {}): AsyncGenerator<Item<N>> {
    let cursor: string | null | undefined = (input as { cursor?: string | null }).cursor;
    do {
      const page = (await this.call(name, { ...(input as object), cursor } as Input<N>, options)) as {
        items: Item<N>[];
        nextCursor: string | null;
      };
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /**
   * Calls an operation that may need the person's confirmation (an agent key's delete, cancel,
   * refund …): when the server asks, `ask` is shown the preview; the call is repeated with the
   * token only if it resolves true. Throws the ConfirmationRequired error when the person says no.
   */
  async confirmed<N extends OperationName>(
    name: N,
    input: Input<N>,
    ask: (preview: unknown, error: ConfirmationRequired) => boolean | Promise<boolean>,
    options: CallOptions = {},
  ): Promise<Output<N>> {
    try {
      return await this.call(name, input, options);
    } catch (error) {
      if (!(error instanceof ConfirmationRequired)) throw error;
      if (!(await ask(error.preview, error))) throw error;
      return this.call(name, input, { ...options, confirmationToken: error.confirmationToken });
    }
  }

  /**
   * Waits until a person decides an approval (in the inbox at /inbox, or an app with an app
   * key); resolves to the approval once approved, rejected, failed or expired. `result` holds
   * what approving carried out.
   */
  async waitForApproval(
    approvalId: string,
    { intervalMs = 2000, timeoutMs = 10 * 60 * 1000, signal }: { intervalMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Output<"get_approval">> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const approval = await this.call("get_approval", { approvalId } as Input<"get_approval">, { signal });
      if ((approval as { status: string }).status !== "pending") return approval;
      if (Date.now() + intervalMs > until) throw new Error(`approval ${approvalId} is still pending after ${timeoutMs} ms`);
      await sleep(intervalMs);
    }
  }
}
