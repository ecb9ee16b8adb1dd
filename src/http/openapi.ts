import { Hono } from 'hono';
import { z } from 'zod';
import {
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  createDocument,
} from 'zod-openapi';
import { ERROR_STATUS, type ErrorCode } from '../errors.js';
import { receiptBatchSchema } from '../common/observation.js';
import { rootSchema, vendorName, vendorTargetsSchema } from '../tuf/schema.js';
import { registrationSchema, rotationSchema } from '../tuf/vendor-requests.js';
import { EMBARGO_PATTERN, groupName } from '../common/names.js';
import { embargoCreateSchema, embargoDecideSchema, embargoMoveSchema } from '../release/embargo.js';
import { NON_NEGATIVE_INT } from './query.js';
import { SHA256 } from './routes/publisher.js';
import { declarationSchema } from './routes/groups.js';
import { signedInstallReportSchema } from '../common/install-report.js';
import { keyRotationsSchema } from '../log/log-keys.js';
import { saltEvidenceSchema } from '../rollout/evidence.js';
import { pauseEvidenceSchema } from '../rollout/pause-evidence.js';

/**
 * The OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0) of the publisher, receipt and log
 * APIs, served at `GET /openapi.json`. Request bodies are the very zod schemas the routes validate
 * with, converted by zod-openapi, so the document cannot drift from the server: what it rejects, the
 * server refuses. It is looser only where JSON Schema cannot say what a check does (a signature, a
 * semantic version, a reserved vendor name): those the server refuses with a 4xx code of its own.
 */

const errorSchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const text = { content: { 'text/plain': { schema: z.string() } } };
const vendorPath = z.object({ vendor: vendorName });
const bearer = [{ bearer: [] }];
const intQuery = (names: string[]) =>
  z.object(Object.fromEntries(names.map((n) => [n, z.string().regex(NON_NEGATIVE_INT)])));

/** The refusals an operation can answer, each with the one error body format. */
function errors(
  ...statuses: number[]
): Record<string, { description: string; content: { 'application/json': { schema: z.ZodType } } }> {
  const why: Record<number, string> = {
    400: 'malformed request: a code names the problem (JSON_INVALID, METADATA_INVALID, RECEIPT_INVALID, QUERY_INVALID…)',
    401: 'no, malformed, unknown or revoked token',
    403: 'this token may not act on this resource',
    404: 'not found',
    409: 'conflicts with what is stored',
    413: 'body too large',
    415: 'not application/json',
    422: 'well-formed but refused by the repository rules (signature, hash, release timing…)',
    429: 'rate limited; see Retry-After',
  };
  return Object.fromEntries(
    statuses.map((s) => [String(s), { description: why[s] ?? 'refused', ...json(errorSchema) }]),
  );
}

const publisher = (
  operation: Omit<ZodOpenApiOperationObject, 'tags' | 'security'>,
): ZodOpenApiOperationObject => ({ tags: ['publisher'], security: bearer, ...operation });
const staged = z.looseObject({
  vendor: z.string(),
  version: z.number().int(),
  activationTick: z.number().int(),
  activatesAt: z.string(),
  logIndex: z.number().int().optional(),
});
const embargoPath = z.object({ id: z.string().regex(EMBARGO_PATTERN) });
const embargoView = z.looseObject({
  id: z.string(),
  release_at: z.string(),
  activation_tick: z.number().int(),
  state: z.enum(['pending', 'released']),
  members: z.array(
    z.looseObject({ vendor: z.string(), ready: z.boolean(), left_out: z.boolean() }),
  ),
});
const proof = (a: string, b: string) =>
  z.strictObject({
    [a]: z.number().int(),
    [b]: z.number().int(),
    proof: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
  });

const paths: ZodOpenApiPathsObject = {
  '/api/v1/vendors/{vendor}/blobs/{sha256}': {
    put: publisher({
      operationId: 'uploadBlob',
      summary: 'upload an artifact, named by its SHA-256 (the vendor token)',
      requestParams: { path: z.object({ vendor: vendorName, sha256: z.string().regex(SHA256) }) },
      requestBody: {
        required: true,
        content: {
          'application/octet-stream': {
            schema: z.string().meta({ contentMediaType: 'application/octet-stream' }),
          },
        },
      },
      responses: {
        '200': {
          description: 'already uploaded by this vendor',
          ...json(
            z.strictObject({
              sha256: z.string(),
              length: z.number().int(),
              stored: z.literal(false),
            }),
          ),
        },
        '201': {
          description: 'stored',
          ...json(
            z.strictObject({
              sha256: z.string(),
              length: z.number().int(),
              stored: z.literal(true),
            }),
          ),
        },
        ...errors(400, 401, 403, 413, 422, 429),
      },
    }),
  },
  '/api/v1/vendors/{vendor}/metadata/latest': {
    get: publisher({
      operationId: 'latestVendorMetadata',
      summary: "the vendor's latest staged targets metadata (the vendor or the operator token)",
      requestParams: { path: vendorPath },
      responses: {
        '200': { description: 'signed targets metadata', ...json(vendorTargetsSchema) },
        ...errors(400, 401, 403, 404, 429),
      },
    }),
  },
  '/api/v1/vendors/{vendor}/metadata': {
    post: publisher({
      operationId: 'stageVendorMetadata',
      summary:
        "stage the vendor's next signed targets metadata: a release, a halt or a refresh (the vendor token); ?embargo=ID stages a release into an embargo",
      requestParams: {
        path: vendorPath,
        query: z.object({ embargo: z.string().regex(EMBARGO_PATTERN).optional() }),
      },
      requestBody: { required: true, ...json(vendorTargetsSchema) },
      responses: {
        '201': { description: 'staged; live from activatesAt', ...json(staged) },
        ...errors(400, 401, 403, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/embargoes': {
    post: publisher({
      operationId: 'createEmbargo',
      summary: 'open an embargo: members and one release time (the operator token, as coordinator)',
      requestBody: { required: true, ...json(embargoCreateSchema) },
      responses: {
        '201': { description: 'created', ...json(embargoView) },
        ...errors(400, 401, 403, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/embargoes/{id}': {
    get: publisher({
      operationId: 'getEmbargo',
      summary:
        "an embargo's time and which members are ready (a member's token or the operator's; anyone else: 404)",
      requestParams: { path: embargoPath },
      responses: {
        '200': { description: 'the embargo', ...json(embargoView) },
        ...errors(401, 404, 429),
      },
    }),
  },
  '/api/v1/embargoes/{id}/move': {
    post: publisher({
      operationId: 'moveEmbargo',
      summary:
        "move an embargo; every ready member's staged version moves with it (the operator token)",
      requestParams: { path: embargoPath },
      requestBody: { required: true, ...json(embargoMoveSchema) },
      responses: {
        '200': { description: 'moved', ...json(embargoView) },
        ...errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/embargoes/{id}/decide': {
    post: publisher({
      operationId: 'decideEmbargo',
      summary: 'release without members that are not ready (the operator token)',
      requestParams: { path: embargoPath },
      requestBody: { required: true, ...json(embargoDecideSchema) },
      responses: {
        '200': { description: 'decided', ...json(embargoView) },
        ...errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/vendors': {
    post: publisher({
      operationId: 'registerVendor',
      summary:
        'register a vendor: its key and the new top-level targets delegating to it (the operator token)',
      requestBody: { required: true, ...json(registrationSchema) },
      responses: {
        '201': {
          description: "registered; the vendor's first token",
          ...json(
            z.looseObject({
              name: z.string(),
              effectiveAt: z.number(),
              activationTick: z.number().int(),
              token: z.string(),
            }),
          ),
        },
        ...errors(400, 401, 403, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/vendors/{vendor}/tokens': {
    post: publisher({
      operationId: 'issueVendorToken',
      summary: 'issue a vendor token; ?revoke=all revokes the others first (the operator token)',
      requestParams: { path: vendorPath, query: z.object({ revoke: z.literal('all').optional() }) },
      responses: {
        '201': {
          description: 'issued',
          ...json(
            z.strictObject({ vendor: z.string(), token: z.string(), revoked: z.number().int() }),
          ),
        },
        ...errors(400, 401, 403, 404, 429),
      },
    }),
    delete: publisher({
      operationId: 'revokeVendorTokens',
      summary: "revoke every one of the vendor's tokens (the operator token)",
      requestParams: { path: vendorPath },
      responses: {
        '200': {
          description: 'revoked',
          ...json(z.strictObject({ vendor: z.string(), revoked: z.number().int() })),
        },
        ...errors(400, 401, 403, 429),
      },
    }),
  },
  '/api/v1/vendors/{vendor}/key': {
    post: publisher({
      operationId: 'rotateVendorKey',
      summary:
        "replace the vendor's key: new delegation and re-signed targets go live at one tick (the operator token)",
      requestParams: { path: vendorPath },
      requestBody: { required: true, ...json(rotationSchema) },
      responses: {
        '201': {
          description: 'rotated',
          ...json(
            z.looseObject({
              name: z.string(),
              keyid: z.string(),
              activationTick: z.number().int(),
            }),
          ),
        },
        ...errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/top-targets/latest': {
    get: publisher({
      operationId: 'latestTopTargets',
      summary: 'the latest top-level targets metadata (the operator token)',
      responses: {
        '200': {
          description: 'signed targets metadata',
          ...json(
            z.looseObject({
              signed: z.record(z.string(), z.unknown()),
              signatures: z.array(z.unknown()),
            }),
          ),
        },
        ...errors(401, 403, 404, 429),
      },
    }),
  },
  '/api/v1/root': {
    post: publisher({
      operationId: 'addRoot',
      summary:
        'add the next root version, signed by the old and the new root thresholds (the operator token)',
      requestBody: { required: true, ...json(rootSchema) },
      responses: {
        '201': { description: 'added', ...json(z.strictObject({ version: z.number().int() })) },
        ...errors(400, 401, 403, 409, 413, 415, 422, 429),
      },
    }),
  },
  '/api/v1/groups': {
    put: publisher({
      operationId: 'declareGroups',
      summary:
        'declare, in the log, every customer group this repository serves (the operator token); the audit must cover each',
      requestBody: { required: true, ...json(declarationSchema) },
      responses: {
        '200': {
          description: 'declared',
          ...json(z.strictObject({ groups: z.array(z.string()), logIndex: z.number().int() })),
        },
        ...errors(400, 401, 403, 413, 415, 429),
      },
    }),
  },
  '/api/v1/receipts': {
    post: {
      tags: ['receipts'],
      operationId: 'submitReceipts',
      summary:
        "hand in an agent's signed observations and the timestamp documents they name; the batch becomes one log leaf",
      requestBody: { required: true, ...json(receiptBatchSchema) },
      responses: {
        '201': {
          description: 'logged',
          ...json(
            z.strictObject({
              accepted: z.number().int(),
              newDocuments: z.number().int(),
              logIndex: z.number().int(),
            }),
          ),
        },
        ...errors(400, 413, 415, 422, 429),
      },
    },
  },
  '/api/v1/reports': {
    post: {
      tags: ['receipts'],
      operationId: 'reportInstall',
      summary:
        "count one agent's install outcome, signed by the agent's key (budgeted per key like receipts)",
      requestBody: { required: true, ...json(signedInstallReportSchema) },
      responses: {
        '201': { description: 'counted', ...json(z.strictObject({ counted: z.literal(true) })) },
        ...errors(400, 413, 415, 422, 429),
      },
    },
    get: {
      tags: ['receipts'],
      security: bearer,
      operationId: 'installReports',
      summary: 'install outcomes, summed per group, product and version (operator token)',
      responses: {
        '200': {
          description: 'the counts',
          ...json(
            z.strictObject({
              truncated: z.literal(true).optional(),
              reports: z.array(
                z.strictObject({
                  group: groupName,
                  product: z.string(),
                  version: z.string(),
                  outcome: z.enum(['installed', 'failed']),
                  count: z.number().int(),
                }),
              ),
            }),
          ),
        },
        ...errors(401, 403, 429),
      },
    },
  },
  '/api/v1/report': {
    get: {
      tags: ['log'],
      operationId: 'fairnessReport',
      summary:
        "this node's own fairness evaluation of its log (the dashboard's data; an independent audit is `fairpatch audit`)",
      responses: { '200': { description: 'the report', ...json(z.looseObject({})) } },
    },
  },
  '/log/key': {
    get: {
      tags: ['log'],
      operationId: 'logKey',
      summary: 'the C2SP signed-note verifier key auditors pin',
      responses: { '200': { description: 'verifier key', ...text } },
    },
  },
  '/log/key-rotations': {
    get: {
      tags: ['log'],
      operationId: 'logKeyRotations',
      summary:
        'each log.key-rotated leaf with the first checkpoint including it and its inclusion proof: how a client pinned to an earlier log key follows a rotation',
      responses: { '200': { description: 'announcements', ...json(keyRotationsSchema) } },
    },
  },
  '/log/checkpoint': {
    get: {
      tags: ['log'],
      operationId: 'logCheckpoint',
      summary: 'the latest C2SP checkpoint (signed note: origin, size, RFC 9162 root hash)',
      responses: { '200': { description: 'signed note', ...text }, ...errors(404) },
    },
  },
  '/log/rollout-salt': {
    get: {
      tags: ['log'],
      operationId: 'logRolloutSalt',
      summary:
        "a staged release's lottery salt evidence: the activation leaf that first carried the target, and the first checkpoints holding it (the first, then those carrying cosignatures), each with the leaf's inclusion proof",
      requestParams: {
        query: z.strictObject({
          target: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}\/[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/),
        }),
      },
      responses: {
        '200': { description: 'salt evidence', ...json(saltEvidenceSchema) },
        ...errors(400, 404),
      },
    },
  },
  '/log/rollout-pauses': {
    get: {
      tags: ['log'],
      operationId: 'logRolloutPauses',
      summary:
        "a staged release's automatic pause, if the node logged one: the rollout.auto-paused leaf (the vouched failure reports that crossed the plan's threshold) with its inclusion proof in the newest checkpoint",
      requestParams: {
        query: z.strictObject({
          release: z
            .string()
            .regex(/^[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9._-]{0,63}@[ -~]{1,64}$/),
        }),
      },
      responses: {
        '200': { description: 'pause evidence', ...json(pauseEvidenceSchema) },
        ...errors(400),
      },
    },
  },
  '/log/entries': {
    get: {
      tags: ['log'],
      operationId: 'logEntries',
      summary:
        'leaves from start, below end: at most 1000 and at most 4 MiB of entries (at least one); page on from the last index returned',
      requestParams: { query: intQuery(['start', 'end']) },
      responses: {
        '200': {
          description: 'leaves',
          ...json(
            z.strictObject({
              entries: z.array(z.strictObject({ index: z.number().int(), data: z.string() })),
            }),
          ),
        },
        ...errors(400),
      },
    },
  },
  '/log/tile/*': {
    get: {
      tags: ['log'],
      operationId: 'logTile',
      summary:
        'C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] hash tiles, tile/entries/<N>[.p/<W>] entry bundles (uint16 lengths), tile/entries-u32/<N>[.p/<W>] the same with uint32 lengths (leaves past 64 KiB); full tiles are immutable',
      responses: {
        '200': {
          description: 'tile bytes',
          content: {
            'application/octet-stream': {
              schema: z.string().meta({ contentMediaType: 'application/octet-stream' }),
            },
          },
        },
        ...errors(400, 404),
      },
    },
  },
  '/log/proof/inclusion': {
    get: {
      tags: ['log'],
      operationId: 'logInclusionProof',
      summary: 'RFC 9162 inclusion proof of leaf index in the tree of size leaves',
      requestParams: { query: intQuery(['index', 'size']) },
      responses: {
        '200': { description: 'audit path, hex', ...json(proof('index', 'size')) },
        ...errors(400),
      },
    },
  },
  '/log/proof/consistency': {
    get: {
      tags: ['log'],
      operationId: 'logConsistencyProof',
      summary: 'RFC 9162 consistency proof between two tree sizes',
      requestParams: { query: intQuery(['first', 'second']) },
      responses: {
        '200': { description: 'consistency path, hex', ...json(proof('first', 'second')) },
        ...errors(400),
      },
    },
  },
};

let document: string | undefined;

/** The document, generated once (it depends on nothing but the schemas). */
export function openApiDocument(): string {
  document ??= JSON.stringify(
    createDocument({
      openapi: '3.1.0',
      info: {
        title: 'fairpatch',
        version: '1',
        description:
          'Publisher, receipt and transparency-log APIs of a fairpatch node. Every refusal is { error: { code, message } } with a 4xx status.',
      },
      tags: [
        {
          name: 'publisher',
          description:
            'vendors upload artifacts and signed metadata; the operator registers vendors and roots',
        },
        { name: 'receipts', description: 'agents hand in receipts and install outcomes' },
        { name: 'log', description: 'the transparency log: RFC 9162 proofs, C2SP checkpoints' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'a vendor or operator token' },
        },
      },
      paths,
    }),
  );
  return document;
}

export function openApiRoutes(): Hono {
  const app = new Hono();
  app.get('/openapi.json', (c) =>
    c.body(openApiDocument(), 200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'public, max-age=300',
    }),
  );
  return app;
}
