import type { App } from '../../shared/app';
import type { ContainerSettings } from '../../shared/config/container';
import { BadRequestError } from '../../shared/errors';
import type { ServeRequest, ServeResponse } from '../../shared/http/request';

/**
 * A platform request mapped onto a core route: the core request (its body filled in by `body`
 * once read) and, optionally, how the core's answer is shown to the platform.
 */
export interface Translation {
  request: ServeRequest;
  body?: (raw: ServeRequest['body']) => ServeRequest['body'];
  respond?: (response: ServeResponse) => ServeResponse;
}

/** Pure: the translation of one of the platform's requests, or undefined for any other request. */
export type ContainerContract = (request: ServeRequest) => Translation | undefined;

/** What every contract needs to know besides its settings: the models the mount holds. */
export interface ContractContext {
  settings: ContainerSettings;
  models: readonly string[];
}

/**
 * The platform's front end authenticated the caller (SageMaker: IAM; Vertex: Google IAM; Azure
 * ML: endpoint key or token) and is the only one that can reach the container's port: its
 * requests carry that as `platformCaller` (scopes: PLATFORM_CALLER_SCOPES).
 */
export function coreRequest(
  request: ServeRequest,
  platform: string,
  method: string,
  path: string,
  headers: Record<string, string> = { ...request.headers },
): ServeRequest {
  return { method, path, query: {}, headers, sourceIp: request.sourceIp, platformCaller: platform };
}

/** The model a request goes to when it names none: SERVED_MODEL, or the only one mounted. */
export function defaultModel(context: ContractContext, how: string): string {
  const { servedModel } = context.settings;
  if (servedModel !== undefined) return servedModel;
  const [only, ...others] = context.models;
  if (only !== undefined && others.length === 0) return only;
  throw new BadRequestError(
    `the mount holds ${context.models.length} models (${context.models.join(', ') || 'none'}): name one with ${how}, or set SERVED_MODEL`,
  );
}

/**
 * The core app seen through a contract. A translation is made once per request object, at
 * `admit` (headers only) or `handle`, so the core's admitted-request check holds across both.
 */
export function withContract(core: App, contract: ContainerContract): App {
  const translations = new WeakMap<ServeRequest, Translation | null>();
  const translationOf = (request: ServeRequest): Translation | undefined => {
    let translation = translations.get(request);
    if (translation === undefined) {
      translation = contract(request) ?? null;
      translations.set(request, translation);
    }
    return translation ?? undefined;
  };
  const handle = async (request: ServeRequest): Promise<ServeResponse> => {
    let translation: Translation | undefined;
    try {
      translation = translationOf(request);
      if (translation === undefined) return await core.handle(request);
      translation.request.body = translation.body ? translation.body(request.body) : request.body;
    } catch (err) {
      return core.reject(translation?.request ?? request, err);
    }
    const response = await core.handle(translation.request);
    return translation.respond && response.status < 400 ? translation.respond(response) : response;
  };
  // Everything else (preload, settled, records, …) is the core's own.
  return {
    ...core,
    handle,
    admit: async (request) => core.admit(translationOf(request)?.request ?? request),
    reject: (request, err) => {
      let translated: ServeRequest | undefined;
      try {
        translated = translationOf(request)?.request;
      } catch {
        // The request could not be translated either: the platform's own path names the route.
      }
      return core.reject(translated ?? request, err);
    },
  };
}
