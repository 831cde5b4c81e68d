/** veilnet's control plane: the one module every role uses to talk to Master. */
export { CLAIMS_UPDATE_SUBJECT, type PushResult, pushAccountJwt } from "./account-push.ts";
export {
  ControlChannel,
  type ControlChannelOptions,
  type ControlHandler,
  type ControlMessage,
  DEFAULT_SEND_RATE,
} from "./channel.ts";
export {
  type ConnectionEvent,
  ControlConnection,
  type ControlConnectOptions,
  type ControlCredentials,
} from "./connection.ts";
export { DropCounters, DropReason } from "./drops.ts";
export { type Envelope, EnvelopeKind, parseEnvelope } from "./envelope.ts";
export { ControlError } from "./errors.ts";
export {
  type Accepted,
  DEFAULT_RECEIVE_RATE,
  Inbound,
  type LearnSender,
  MAX_CLOCK_SKEW_MS,
  MAX_LIFETIME_MS,
} from "./inbound.ts";
export { KeyDirectory, type PeerKeys } from "./key-directory.ts";
export { buildEnvelope, DEFAULT_TTL_MS } from "./outbound.ts";
export { ReplayGuard } from "./replay-guard.ts";
export { open, SEAL_OVERHEAD, seal } from "./seal.ts";
export { GUARDIAN_QUEUE, guardianPermissions, nodePermissions, replyTopic, Subjects } from "./subjects.ts";
export { TokenBucket } from "./token-bucket.ts";
