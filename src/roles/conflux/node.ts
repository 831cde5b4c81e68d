/**
 * A running Conflux node: enrolment, the control channel to Master, the TUN and its native data
 * plane, handshakes and the peer manager, admin commands, revocations and the local control socket.
 * `start` either returns a running node or cleans up everything it began and throws.
 */

import { formatIPv6 } from "../../anchor/address6.ts";
import { decodeCertificate, formatIPv4 } from "../../anchor/certificate.ts";
import { CertificateCache } from "../../anchor/certificate-verify.ts";
import type { PeerPolicy } from "../../anchor/handshake.ts";
import { trustedIssuers } from "../../anchor/issuer.ts";
import { MsgType } from "../../anchor/message-type.ts";
import { RevocationSet } from "../../anchor/revocation.ts";
import { ControlChannel, ControlConnection, Subjects } from "../../control/index.ts";
import { LocalControlServer } from "../../control/local-control.ts";
import { closeTun, configureInterface, type Tun } from "../../ffi/index.ts";
import { AdminResponder } from "../../guardian-api/admin-responder.ts";
import { fetchRevocations } from "../../guardian-api/client.ts";
import { CredentialRenewer } from "../../guardian-api/renewer.ts";
import { fromB64u } from "../../guardian-api/signed-json.ts";
import type { Credentials } from "../../guardian-api/wire.ts";
import { createAdminHandler } from "./admin-handler.ts";
import { localCandidates } from "./candidates.ts";
import { type ConfluxConfig, derivedListenPort, LOCAL_CONTROL_SOCKET, MTU_MAX, MTU_MIN } from "./config.ts";
import { Dataplane, openDataplaneTun } from "./dataplane/dataplane.ts";
import { decodePresence, decodeSignal, encodePresence, encodeSignal } from "./discovery-messages.ts";
import { ensureEnrolled } from "./enrolment.ts";
import { HandshakeDriver } from "./handshake-driver.ts";
import { LocalViews } from "./local-views.ts";
import { PATH_TUN_SUFFIX } from "./multihop/path-tun.ts";
import { LIE_ENV, MultiHop, ROUTES_FILE } from "./multihop/router.ts";
import { NodeState } from "./node-state.ts";
import type { PacketIO } from "./packet-io.ts";
import { PeerManager } from "./peer-manager.ts";
import { verifyRevocationMessage } from "./revocations.ts";
import { innerMtuFor, underlayLink } from "./underlay-mtu.ts";

/* Implementation constants */
export const TICK_MS = 100;
export const PRESENCE_INTERVAL_MS = 20_000;
/** Presence is repeated at these offsets after start: gateway interest takes a moment to spread. */
export const STARTUP_PRESENCE_MS = [1_000, 3_000, 7_000] as const;
/**
 * Answer the presence of a peer we have no session with (a newcomer, a restarted node) with ours, so
 * it learns us at once; at most once per this interval, later rather than never.
 */
export const PRESENCE_ECHO_MIN_MS = 250;
/**
 * Presences of one peer epoch answered at most: its first and its start-up repeats (an answer can
 * be lost while gateway interest spreads). Unbounded, two nodes that never hold a session (no
 * direct path: multi-hop only) answered each other's answers for ever, 4 presences a second each.
 */
export const PRESENCE_ANSWERS_PER_EPOCH = 1 + STARTUP_PRESENCE_MS.length;
/** How long start-up waits for Guardian's current revocation list before going on without it. */
export const REVOCATION_FETCH_WAIT_MS = 3_000;

export type Log = (line: string) => void;

export class ConfluxNode {
  readonly startedAt = Date.now();
  readonly #cleanups: (() => unknown)[] = [];
  #stopping: Promise<void> | undefined;
  #resolveStopped: () => void = () => {};
  /** Resolves when the node has stopped (SIGTERM, admin shutdown or revoke). */
  readonly stopped = new Promise<void>((r) => {
    this.#resolveStopped = r;
  });
  state!: NodeState;
  credentials!: Credentials;
  tun: Tun | undefined;
  io!: PacketIO;
  channel!: ControlChannel;
  peers!: PeerManager;
  driver!: HandshakeDriver;
  quarantined: string | undefined;
  /** Multi-hop paths and the routing agent (TUN mode only). */
  multihop: MultiHop | undefined;
  /** Recent events and the local control socket's views (`veilnet events`, `sessions`, `metrics`). */
  readonly local = new LocalViews();
  #lastPresence = 0;
  /** Sent in every presence; drawn anew whenever this node drops all its sessions (see peer-manager.ts). */
  #epoch = randomEpoch();
  #announce: () => void = () => {};
  #echoTimer: ReturnType<typeof setTimeout> | undefined;
  #revoked: RevocationSet | undefined;

  private constructor(
    readonly config: ConfluxConfig,
    readonly log: Log,
  ) {}

  static async start(config: ConfluxConfig, log: Log): Promise<ConfluxNode> {
    const node = new ConfluxNode(config, log);
    try {
      await node.#start();
    } catch (err) {
      await node.stop("start failed");
      throw err;
    }
    return node;
  }

  get nodeIdHex(): string {
    return this.state.nodeIdHex;
  }

  async #start(): Promise<void> {
    // Where start-up time goes (ms), from process start: one log line when the node runs.
    const phases: string[] = [`process ${Math.round(performance.now())}`];
    let phaseStart = performance.now();
    const phase = (name: string) => {
      const t = performance.now();
      phases.push(`${name} ${Math.round(t - phaseStart)}`);
      phaseStart = t;
    };
    this.state = await NodeState.open(this.config.stateDir);
    phase("state");
    const { credentials, guardian } = await ensureEnrolled(this.state, this.config, this.log);
    phase("enrolment");
    this.credentials = credentials;
    const certificate = decodeCertificate(fromB64u(credentials.anchorCertificate, "anchorCertificate"));
    const issuer = {
      ed25519Public: credentials.guardian.ed25519,
      mldsa65Public: credentials.guardian.mldsa65,
    };
    const revoked = new RevocationSet();
    this.#revoked = revoked;
    const trust: PeerPolicy = {
      realmKeys: trustedIssuers(issuer),
      realm: credentials.realm,
      revoked,
      cache: new CertificateCache(),
    };

    // Control channel to Master, connecting while the packet plane starts (it needs neither).
    const connecting = ControlConnection.connect({
      servers: credentials.masters,
      caPem: credentials.caBundle,
      credentials: controlCredentials(credentials, this.state),
      name: `conflux-${this.nodeIdHex.slice(0, 12)}`,
      inboxPrefix: Subjects.inboxPrefix(this.nodeIdHex),
    });
    connecting.catch(() => {}); // a failure is thrown where it is awaited, below
    // Revocations issued before this start: later ones arrive on Master. Fetched alongside, and in
    // place before any handshake is answered; without Guardian the node starts anyway.
    const fetchingRevocations = Promise.race([
      fetchRevocations(guardian, credentials.realm).then((bytes) => {
        revoked.apply(
          verifyRevocationMessage(bytes, { realmKeys: trust.realmKeys, realm: credentials.realm }),
        );
      }),
      Bun.sleep(REVOCATION_FETCH_WAIT_MS).then(() => {
        throw new Error(`no answer in ${REVOCATION_FETCH_WAIT_MS} ms`);
      }),
    ]).catch((e: unknown) => this.log(`revocation list not applied (live updates still are): ${String(e)}`));
    this.#cleanups.push(async () => (await connecting.catch(() => undefined))?.close());

    // Packet plane: TUN + native data plane.
    const ipv4 = formatIPv4(certificate.ipv4);
    const ipv6 = formatIPv6(certificate.ipv6);
    const udpPort = this.config.listenPort ?? derivedListenPort(this.state.identity.nodeId);
    const mtu = this.config.mtu ?? derivedMtu(this.config.tunName, this.log);
    let dp: PacketIO;
    if (!this.config.tunName) {
      // Embedded mode: in-process packet plane, no TUN, no privileges (embedded/plane.ts).
      const { EmbeddedPlane } = await import("./embedded/plane.ts");
      dp = await EmbeddedPlane.start({ udpPort, mtu });
      this.#cleanups.push(() => dp.stop());
      this.log(`embedded packet plane: ${ipv4} ${ipv6}, anchor udp port ${dp.port}`);
    } else {
      // vnet header + TSO: super-packets from the kernel, UDP GSO/GRO, TCP coalescing (~5x plain).
      const tun = openDataplaneTun(this.config.tunName);
      this.tun = tun;
      this.#cleanups.push(() => closeTun(tun));
      configureInterface(tun.name, { mtu, addresses: [`${ipv4}/10`, `${ipv6}/48`] });
      phase("tun");
      const native = await Dataplane.start({ tunFd: tun.fd, mtu, udpPort });
      dp = native;
      this.#cleanups.push(() => native.stop());
      this.log(`${tun.name} up: ${ipv4} ${ipv6}, anchor udp port ${dp.port}`);
    }
    phase("dataplane");
    this.io = dp;

    // Credentials follow Guardian's renewals.
    const connection = await connecting;
    await fetchingRevocations;
    phase("nats");
    this.channel = new ControlChannel({ identity: this.state.identity, connection });
    const renewer = new CredentialRenewer({
      endpoint: guardian,
      keys: this.state.keys,
      credentials,
      onError: (e) => this.log(`credential renewal failed (will retry): ${String(e)}`),
    });
    renewer.onRenewed((c) => {
      this.credentials = c;
      this.state.saveCredentials(c);
      void connection
        .renew(controlCredentials(c, this.state))
        .catch((e) => this.log(`NATS renew: ${String(e)}`));
      this.log(`credentials renewed, valid until ${new Date(c.expiresAt).toISOString()}`);
      this.local.emit("credentials.renewed", undefined, { expiresAt: new Date(c.expiresAt).toISOString() });
    });
    renewer.start();
    this.#cleanups.push(() => renewer.stop());

    // Handshakes and peers.
    const publicIp = () => connection.nc.info?.client_ip;
    const candidates = () => {
      const pub = publicIp();
      return localCandidates(dp.port, new Set([ipv4]), [...this.config.advertise, ...(pub ? [pub] : [])]);
    };
    const now = Date.now();
    this.driver = new HandshakeDriver(
      { identity: this.state.identity, certificate, trust },
      { send: (d, to) => dp.sendControl(d, to) },
      {
        established: (e, from, asInitiator) => {
          if (this.quarantined) return;
          this.peers.onEstablished(e, from, asInitiator, Date.now());
        },
        failed: (id, err) => {
          this.log(`handshake with ${id.slice(0, 8)} failed: ${String(err)}`);
          this.peers.onDialFailed(id);
        },
      },
      now,
    );
    this.peers = new PeerManager({
      selfIdHex: this.nodeIdHex,
      trust,
      io: dp,
      driver: this.driver,
      signaller: {
        signal: (peer, idHex, s) =>
          this.channel.send(peer.publicKeys, Subjects.signal(idHex), encodeSignal(s)),
      },
      candidates,
      log: this.log,
      event: this.local.emit,
      sessions: {
        up: (cert, keys, endpoint) => this.multihop?.onLinkUp(cert, keys, endpoint),
        down: (idHex) => this.multihop?.onLinkDown(idHex),
      },
    });
    dp.onControl((d, from) => {
      if (this.quarantined) return;
      if (d[0] === MsgType.PathCell) this.multihop?.onDatagram(d);
      else this.driver.receive(d, from, Date.now());
    });

    this.#announce = () => void this.#publishPresence(certificate.bytes, dp.port);

    // Subscriptions: presence (learn keys from the certificate inside), signalling, revocations, admin.
    this.channel.subscribe(
      Subjects.presenceAll,
      (m) => {
        const p = decodePresence(m.body);
        const peer = this.peers.onPresence(p.certificate, Date.now(), p.epoch, p.quarantined);
        if (peer && peer.established === undefined && peer.presenceAnswers < PRESENCE_ANSWERS_PER_EPOCH) {
          if (peer.presenceAnswers === 0) this.multihop?.onPeerArrived();
          peer.presenceAnswers++;
          this.#echoPresence();
        }
      },
      {
        learn: (_sender, env) => {
          try {
            const p = decodePresence(env.body);
            return this.peers.onPresence(p.certificate, Date.now())?.cert.publicKeys;
          } catch {
            return undefined;
          }
        },
      },
    );
    this.channel.subscribe(Subjects.signal(this.nodeIdHex), (m) => {
      if (!this.quarantined) this.peers.onSignal(m.senderId, decodeSignal(m.body), Date.now());
    });
    connection.subscribe(Subjects.revocations, (msg) => {
      try {
        const list = verifyRevocationMessage(msg.data, {
          realmKeys: trust.realmKeys,
          realm: credentials.realm,
        });
        if (!revoked.apply(list)) return;
        for (const e of list.entries) {
          const idHex = Buffer.from(e.id).toString("hex");
          if (idHex === this.nodeIdHex) {
            this.log("this node is revoked: stopping");
            this.local.emit("node.revoked", undefined, { sequence: list.sequence });
            void this.stop("revoked");
            return;
          }
          if (this.peers.block(idHex, "revoked"))
            this.log(`peer ${idHex.slice(0, 8)} revoked: sessions torn down`);
        }
      } catch (e) {
        this.log(`revocation list refused: ${String(e)}`);
      }
    });
    const admin = new AdminResponder({
      identity: this.state.identity,
      realm: credentials.realm,
      guardian: credentials.guardian,
      connection,
      handler: createAdminHandler(this),
      onRefused: (r) => {
        this.log(`admin command refused: ${r.reason}: ${r.message}`);
        this.local.emit("admin.refused", undefined, { reason: r.reason, message: r.message });
      },
      onExecuted: (c) => {
        this.log(`admin command executed: ${c.verb}`);
        this.local.emit("admin.command", undefined, { verb: c.verb });
      },
    });
    admin.start();
    this.#cleanups.push(() => admin.stop());

    // Multi-hop paths for destinations without a direct session (second TUN, routing agent).
    if (this.tun) {
      const lie = Number(process.env[LIE_ENV] ?? "");
      const multihop = MultiHop.start({
        identity: this.state.identity,
        certificate,
        trust,
        tunName: this.tun.name,
        ipv4,
        ipv6,
        storePath: this.state.path(ROUTES_FILE),
        sendDatagram: (d, to) => dp.sendControl(d, to),
        peers: this.peers,
        channel: this.channel,
        log: this.log,
        event: this.local.emit,
        ...(lie > 0 ? { lieFactor: lie } : {}),
        // the native RX loop opens cells and relays traversing paths itself
        ...(dp instanceof Dataplane ? { dataplane: dp } : {}),
      });
      this.multihop = multihop;
      this.#cleanups.push(() => multihop.stop());
    }

    // Timers.
    const tick = setInterval(() => {
      const t = Date.now();
      this.driver.tick(t);
      if (!this.quarantined) this.peers.tick(t); // a quarantined node offers nothing
    }, TICK_MS);
    this.#cleanups.push(() => clearInterval(tick));
    const presence = setInterval(
      () => void this.#publishPresence(certificate.bytes, dp.port),
      PRESENCE_INTERVAL_MS + Math.floor(Math.random() * 2000),
    );
    this.#cleanups.push(() => clearInterval(presence));
    await this.#publishPresence(certificate.bytes, dp.port);
    for (const at of STARTUP_PRESENCE_MS) {
      const t = setTimeout(() => void this.#publishPresence(certificate.bytes, dp.port), at);
      this.#cleanups.push(() => clearTimeout(t));
    }

    // Local control socket.
    const local = LocalControlServer.listen(
      this.state.path(LOCAL_CONTROL_SOCKET),
      this.local.handlers(this),
      this.local.streams(),
    );
    this.#cleanups.push(() => local.stop());
    phase("rest");
    this.log(`started in ms: ${phases.join(", ")}`);
  }

  /** Publishes our presence now, or once PRESENCE_ECHO_MIN_MS after the last one (coalesced). */
  #echoPresence(): void {
    if (this.#echoTimer !== undefined) return;
    const wait = this.#lastPresence + PRESENCE_ECHO_MIN_MS - Date.now();
    if (wait <= 0) {
      this.#announce();
      return;
    }
    this.#echoTimer = setTimeout(() => {
      this.#echoTimer = undefined;
      if (!this.#stopping) this.#announce();
    }, wait);
  }

  async #publishPresence(cert: Uint8Array, port: number): Promise<void> {
    this.#lastPresence = Date.now();
    try {
      await this.channel.publish(
        Subjects.presence(this.nodeIdHex),
        encodePresence({
          certificate: cert,
          port,
          epoch: this.#epoch,
          quarantined: this.quarantined !== undefined,
        }),
      );
    } catch (e) {
      this.log(`presence publish failed: ${String(e)}`);
    }
  }

  /**
   * Drops every session (quarantine, release, key invalidation) and tells the realm at once with a
   * presence under a new epoch, so peers re-establish (or stay apart) now instead of after their
   * sessions fall silent.
   */
  resetSessions(reason: string): void {
    this.peers.teardownAll(reason);
    this.#epoch = randomEpoch();
    this.#announce();
  }

  status(): Record<string, unknown> {
    const now = Date.now();
    return {
      node: this.nodeIdHex,
      realm: this.credentials.realm,
      ipv4: this.credentials.ipv4,
      ipv6: this.credentials.ipv6,
      taints: this.credentials.taints,
      tun: this.tun?.name ?? null,
      port: this.io.port,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      credentialsExpireAt: new Date(this.credentials.expiresAt).toISOString(),
      master: this.channel.connection.server,
      quarantined: this.quarantined ?? null,
      revocations: { entries: this.#revoked?.size ?? 0, sequence: this.#revoked?.sequence ?? -1 },
      peers: this.peers.snapshot(now),
      controlDrops: this.channel.drops.snapshot?.() ?? null,
      dataplane: this.io.counters(),
    };
  }

  /** Stops everything that was started, in reverse order. Idempotent. */
  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.log(`stopping (${reason})`);
      this.peers?.teardownAll(reason);
      for (const cleanup of this.#cleanups.reverse()) {
        try {
          await cleanup();
        } catch (e) {
          this.log(`cleanup: ${String(e)}`);
        }
      }
      this.#resolveStopped();
    })();
    return this.#stopping;
  }
}

/** The overlay MTU from the underlay link (underlay-mtu.ts), logged with how it was found. */
function derivedMtu(tunName: string | undefined, log: (line: string) => void): number {
  const tuns = tunName ? [tunName, `${tunName}${PATH_TUN_SUFFIX}`] : [];
  const link = underlayLink(tuns);
  const mtu = innerMtuFor(link.mtu, MTU_MIN, MTU_MAX);
  log(`overlay MTU ${mtu}: underlay ${link.name || "?"} MTU ${link.mtu} (${link.why}) − ${link.mtu - mtu}`);
  return mtu;
}

function randomEpoch(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

function controlCredentials(c: Credentials, state: NodeState) {
  return {
    jwt: c.natsJwt,
    seed: state.keys.natsSeed,
    certPem: c.tlsCertificate,
    keyPem: state.keys.tlsPrivateKeyPem,
  };
}
