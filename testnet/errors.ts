/**
 * Typed errors of the network-namespace test harness. Each carries a stable `code` that
 * scripts and tests can match on; messages name the namespace, link or command involved.
 */
import { VeilnetError } from "../src/errors.ts";

/** Base of every harness error. */
export class TestnetError extends VeilnetError {
  override readonly name: string = "TestnetError";
}

/** A topology name, file or JSON document is invalid (unknown host, duplicate name, bad shape). */
export class TopologyError extends TestnetError {
  override readonly name = "TopologyError";
  constructor(message: string, options?: ErrorOptions) {
    super("TESTNET_TOPOLOGY", message, options);
  }
}

/** Bad arguments to the CLI or the API (unknown host, no link between two hosts, bad number). */
export class MeshUsageError extends TestnetError {
  override readonly name = "MeshUsageError";
  constructor(message: string, options?: ErrorOptions) {
    super("TESTNET_USAGE", message, options);
  }
}

/** A kernel-configuring command (`ip`, `nft`, `tc`, ...) exited non-zero. */
export class CommandError extends TestnetError {
  override readonly name = "CommandError";
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number, stderr: string) {
    super("TESTNET_COMMAND", `${argv.join(" ")} exited ${exitCode}: ${stderr.trim().slice(0, 2000)}`);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** The run's state directory is missing, unreadable, owned by a live process, or ambiguous. */
export class StateError extends TestnetError {
  override readonly name = "StateError";
  constructor(message: string, options?: ErrorOptions) {
    super("TESTNET_STATE", message, options);
  }
}
