/*
 * veilnet data plane: the per-packet loops, compiled at run time by bun:ffi's TinyCC.
 *
 * TX (one Worker thread):  TUN read until EAGAIN or BATCH → route → seal in place → one sendmmsg.
 * RX (one Worker thread):  recvmmsg(BATCH) → index lookup → replay pre-check → open in place →
 *                          replay update → inner source check → TUN write. Non-transport datagrams
 *                          go to the control ring for the main thread.
 *
 * Self-contained on purpose: no system headers (a deployed host may have none). Layout numbers
 * (offsets, sizes, counter indices) arrive as -D defines from layout.ts. Shared memory is written
 * by the main thread under seqlocks (odd = being written); x86-64 TSO plus TinyCC's lack of
 * reordering make volatile loads/stores sufficient here.
 *
 * Never crashes on input: every length is checked before use; every drop is counted by reason.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long ssize_t;
typedef unsigned long size_t;

struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
  void *msg_name; u32 msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
  void *msg_control; size_t msg_controllen; int msg_flags;
};
struct mmsghdr { struct msghdr msg_hdr; u32 msg_len; };
struct pollfd { int fd; short events; short revents; };

extern int *__errno_location(void);
ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
int sendmmsg(int fd, struct mmsghdr *v, u32 n, int flags);
int recvmmsg(int fd, struct mmsghdr *v, u32 n, int flags, void *timeout);
int poll(struct pollfd *fds, unsigned long n, int timeout);
void *calloc(size_t n, size_t size);
void free(void *p);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_cipher_st EVP_CIPHER;
EVP_CIPHER_CTX *EVP_CIPHER_CTX_new(void);
void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *c);
const EVP_CIPHER *EVP_aes_256_gcm(void);
int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, void *e, const u8 *key, const u8 *iv);
int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, u8 *out, int *outl, const u8 *in, int inl);
int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *c, u8 *out, int *outl);
int EVP_DecryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, void *e, const u8 *key, const u8 *iv);
int EVP_DecryptUpdate(EVP_CIPHER_CTX *c, u8 *out, int *outl, const u8 *in, int inl);
int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *c, u8 *out, int *outl);
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *c, int type, int arg, void *ptr);

#define EVP_CTRL_GCM_GET_TAG 0x10
#define EVP_CTRL_GCM_SET_TAG 0x11
#define EAGAIN 11
#define EINTR 4
#define EBADF 9
#define POLLIN 1
#define MSG_DONTWAIT 0x40
#define MSG_TRUNC 0x20
#define SOL_UDP 17

#define HDR 16
#define TAG 16
#define MSG_TRANSPORT 4
#define REJECT_AFTER_MESSAGES 0xFFFFFFFFFFFFDFFFULL
#define REPLAY_WORDS (REPLAY_RING_BITS / 64)
#define REPLAY_WINDOW ((REPLAY_WORDS - 1) * 64)
#define SPIN_LIMIT 100000

#define V32(base, off) (*(volatile u32 *)((u8 *)(base) + (off)))
#define V64(base, off) (*(volatile u64 *)((u8 *)(base) + (off)))
#define CNT(sh, i) V64(sh, COUNTERS_OFF + 8 * (i))
#define PEER(sh, slot) ((u8 *)(sh) + PEERS_OFF + (u64)(slot) * PEER_SIZE)

static inline u32 rd32le(const u8 *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((u32)p[3] << 24); }
static inline u64 rd64le(const u8 *p) { return (u64)rd32le(p) | ((u64)rd32le(p + 4) << 32); }
static inline void wr32le(u8 *p, u32 v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static inline void wr64le(u8 *p, u64 v) { wr32le(p, (u32)v); wr32le(p + 4, (u32)(v >> 32)); }
static inline u16 rd16be(const u8 *p) { return (u16)((p[0] << 8) | p[1]); }
static inline u32 rd32be(const u8 *p) { return ((u32)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
static inline void wr16be(u8 *p, u32 v) { p[0] = v >> 8; p[1] = v; }
static inline void wr32be(u8 *p, u32 v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static inline u16 rd16le(const u8 *p) { return (u16)(p[0] | (p[1] << 8)); }
static inline void wr16le(u8 *p, u32 v) { p[0] = v; p[1] = v >> 8; }

/* ---------------------------------------------------------------- checksums (RFC 1071)
 * Summed in native (little-endian) word order and stored back natively: the one's complement sum
 * is byte-order independent, so the stored bytes are the network-order checksum. */

static u64 csum_raw(const u8 *p, u32 len, u64 sum) {
  /* TinyCC does not unroll: four 32-bit halves pairs per iteration keep the loop overhead low. */
  const u32 *w = (const u32 *)p;
  u64 s2 = 0;
  while (len >= 32) {
    sum += (u64)w[0] + w[1] + w[2] + w[3];
    s2 += (u64)w[4] + w[5] + w[6] + w[7];
    w += 8;
    len -= 32;
  }
  sum += s2;
  p = (const u8 *)w;
  while (len >= 8) { u64 v = *(const u64 *)p; sum += (v & 0xffffffffULL) + (v >> 32); p += 8; len -= 8; }
  if (len >= 4) { sum += *(const u32 *)p; p += 4; len -= 4; }
  if (len >= 2) { sum += *(const u16 *)p; p += 2; len -= 2; }
  if (len) sum += p[0];
  return sum;
}
static u16 csum_fold(u64 sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (u16)sum;
}
static u16 bswap16(u32 x) { return (u16)(((x & 0xff) << 8) | ((x >> 8) & 0xff)); }
/* IPv4 pseudo-header sum for a TCP segment of `tcp_len` bytes. */
static u64 pseudo4(const u8 *ip, u32 tcp_len) {
  return csum_raw(ip + 12, 8, 0) + bswap16(6) + bswap16(tcp_len);
}
/* IPv6 pseudo-header sum (no extension headers) for a TCP segment of `tcp_len` bytes. */
static u64 pseudo6(const u8 *ip, u32 tcp_len) {
  return csum_raw(ip + 8, 32, 0) + bswap16(6) + bswap16(tcp_len);
}
/* Pseudo-header sum of either family: `l3` is 20 (IPv4 without options) or 40 (IPv6). */
static u64 pseudo_tcp(const u8 *ip, u32 l3, u32 tcp_len) {
  return l3 == 40 ? pseudo6(ip, tcp_len) : pseudo4(ip, tcp_len);
}
static void ip4_checksum(u8 *ip, u32 ihl) {
  ip[10] = 0; ip[11] = 0;
  *(u16 *)(ip + 10) = (u16)~csum_fold(csum_raw(ip, ihl, 0));
}

/* virtio_net_hdr (10 bytes, little-endian): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset */
#define VNET 10
#define VNET_F_NEEDS_CSUM 1
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_TCPV6 4
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define MAX_SUPER 65535

/* ---------------------------------------------------------------- routing (TX) */

static u32 route_hash(const u8 *k) {
  u32 h = 2166136261u;
  for (int i = 0; i < 16; i++) { h ^= k[i]; h *= 16777619u; }
  return h;
}

static int prefix_match(const u8 *a, const u8 *b, u32 plen) {
  u32 full = plen >> 3, rem = plen & 7;
  if (full > 16) return 0;
  if (memcmp(a, b, full)) return 0;
  if (rem == 0) return 1;
  u8 mask = (u8)(0xff00 >> rem);
  return (a[full] & mask) == (b[full] & mask);
}

/* Slot for `key`, -1 when unrouted. Bounded probes so torn reads cannot loop. */
static int route_lookup_once(u8 *sh, const u8 *key) {
  u8 *hosts = sh + HOSTS_OFF;
  u32 h = route_hash(key) & (HOST_BUCKETS - 1);
  for (u32 n = 0; n < HOST_BUCKETS; n++) {
    u8 *e = hosts + (u64)((h + n) & (HOST_BUCKETS - 1)) * HOST_ENTRY;
    u32 sp1 = V32(e, 16);
    if (sp1 == 0) break;
    if (memcmp(e, key, 16) == 0) return (int)sp1 - 1;
  }
  u32 count = V32(sh, G_PREFIX_COUNT);
  if (count > PREFIX_MAX) count = PREFIX_MAX;
  u8 *pfx = sh + PREFIXES_OFF;
  for (u32 i = 0; i < count; i++) {
    u8 *e = pfx + (u64)i * PREFIX_ENTRY;
    if (prefix_match(e, key, V32(e, 16))) return (int)V32(e, 20) - 1;
  }
  return -1;
}

/* -2 when the table stayed busy (being rewritten) for too long. */
static int route_lookup(u8 *sh, const u8 *key) {
  for (int tries = 0; tries < SPIN_LIMIT; tries++) {
    u32 s1 = V32(sh, G_ROUTE_SEQ);
    if (s1 & 1) continue;
    int r = route_lookup_once(sh, key);
    if (V32(sh, G_ROUTE_SEQ) == s1) return r;
  }
  return -2;
}

/* ---------------------------------------------------------------- TX */

typedef struct {
  EVP_CIPHER_CTX *ctx;
  u32 seq;       /* send-key seqlock value this cache was loaded at (0 = never) */
  u32 valid;
  u32 receiver;
  u64 counter;   /* next counter; owned by TX, published to PO_SK_COUNTER */
} tx_key_t;

typedef struct {
  u8 *sh;
  int tun, udp, wake;
  u32 mtu, slot_size;
  u8 *bufs;
  u8 *names;                       /* BATCH × 32-byte sockaddr copies */
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  int msg_slot[BATCH];
  int offload;                     /* TUN has IFF_VNET_HDR + TSO4: reads are super-packets */
  u8 *super;                       /* VNET + MAX_SUPER read buffer when offloading */
  int gso;                         /* send a split super-packet as one UDP_SEGMENT message */
  int in_super;                    /* tx_super is queueing segments of group cur_grp */
  u32 cur_grp, grp_seq;
  u32 grp[BATCH];                  /* slot → send group (segments of one super-packet share one) */
  struct mmsghdr out[BATCH];       /* messages actually handed to sendmmsg */
  int out_first[BATCH], out_count[BATCH];
  u8 gcmsg[BATCH][24];             /* UDP_SEGMENT control message per GSO message */
  tx_key_t keys[MAX_PEERS];
} tx_t;

void *dp_tx_new(u8 *shared, int tun, int udp, int wake, u32 mtu, int offload) {
  tx_t *t = calloc(1, sizeof(tx_t));
  if (!t) return 0;
  t->sh = shared; t->tun = tun; t->udp = udp; t->wake = wake; t->mtu = mtu; t->offload = offload; t->gso = offload;
  if (offload && !(t->super = calloc(1, VNET + MAX_SUPER + 64))) { free(t); return 0; }
  t->slot_size = (HDR + mtu + TAG + 63) & ~63u;
  t->bufs = calloc(BATCH, t->slot_size);
  t->names = calloc(BATCH, 32);
  if (!t->bufs || !t->names) { free(t->bufs); free(t->names); free(t->super); free(t); return 0; }
  return t;
}

void dp_tx_free(tx_t *t) {
  if (!t) return;
  for (int i = 0; i < MAX_PEERS; i++) if (t->keys[i].ctx) EVP_CIPHER_CTX_free(t->keys[i].ctx);
  free(t->bufs); free(t->names); free(t->super); free(t);
}

/* Refreshes the cached send key of `slot` when the main thread installed a new one. */
static tx_key_t *tx_key(tx_t *t, int slot) {
  u8 *p = PEER(t->sh, slot);
  tx_key_t *k = &t->keys[slot];
  u32 s1 = V32(p, PO_SK_SEQ);
  if (s1 == k->seq) return k->valid ? k : 0;
  if (s1 & 1) return 0;
  u8 key[32];
  memcpy(key, p + PO_SK_KEY, 32);
  u32 valid = V32(p, PO_SK_VALID), receiver = V32(p, PO_SK_RECEIVER);
  u64 start = (u64)V32(p, PO_SK_START_LO) | ((u64)V32(p, PO_SK_START_HI) << 32);
  if (V32(p, PO_SK_SEQ) != s1) { memset(key, 0, 32); return 0; }
  if (!k->ctx) k->ctx = EVP_CIPHER_CTX_new();
  k->valid = 0;
  if (valid && k->ctx && EVP_EncryptInit_ex(k->ctx, EVP_aes_256_gcm(), 0, key, 0) == 1) {
    k->valid = 1;
    k->receiver = receiver;
    k->counter = start;
    V64(p, PO_SK_COUNTER) = start;
  }
  k->seq = s1;
  memset(key, 0, 32);
  return k->valid ? k : 0;
}

/* Seals buf[HDR .. HDR+len) in place with the next counter; writes header and tag. */
static int tx_seal(tx_t *t, tx_key_t *k, u8 *p, u8 *buf, u32 len) {
  if (k->counter >= REJECT_AFTER_MESSAGES) { CNT(t->sh, CNT_DROP_TX_COUNTER_EXHAUSTED)++; return 0; }
  u64 ctr = k->counter++;
  V64(p, PO_SK_COUNTER) = k->counter;
  buf[0] = MSG_TRANSPORT; buf[1] = 0; buf[2] = 0; buf[3] = 0;
  wr32le(buf + 4, k->receiver);
  wr64le(buf + 8, ctr);
  u8 nonce[12];
  wr32le(nonce, 0);
  wr64le(nonce + 4, ctr);
  int outl = 0;
  if (EVP_EncryptInit_ex(k->ctx, 0, 0, 0, nonce) != 1 ||
      EVP_EncryptUpdate(k->ctx, 0, &outl, buf, HDR) != 1 ||
      (len && EVP_EncryptUpdate(k->ctx, buf + HDR, &outl, buf + HDR, (int)len) != 1) ||
      EVP_EncryptFinal_ex(k->ctx, buf + HDR + len, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_GET_TAG, TAG, buf + HDR + len) != 1) {
    CNT(t->sh, CNT_DROP_TX_SEAL_ERROR)++;
    return 0;
  }
  return 1;
}

/* Copies the peer endpoint under its seqlock into the message's name buffer. */
static int tx_endpoint(u8 *p, u8 *name, u32 *namelen) {
  for (int tries = 0; tries < SPIN_LIMIT; tries++) {
    u32 s1 = V32(p, PO_SEQ);
    if (s1 & 1) continue;
    memcpy(name, p + PO_ADDR, 32);
    u32 len = V32(p, PO_ADDRLEN);
    if (V32(p, PO_SEQ) != s1) continue;
    if (len == 0 || len > 32) return 0;
    *namelen = len;
    return 1;
  }
  return 0;
}

static void tx_queue(tx_t *t, int n, int slot, u32 wire_len) {
  t->iov[n].iov_base = t->bufs + (u64)n * t->slot_size;
  t->iov[n].iov_len = wire_len;
  struct msghdr *m = &t->msgs[n].msg_hdr;
  m->msg_name = t->names + (u64)n * 32;
  m->msg_iov = &t->iov[n];
  m->msg_iovlen = 1;
  m->msg_control = 0;
  m->msg_controllen = 0;
  m->msg_flags = 0;
  t->msg_slot[n] = slot;
  t->grp[n] = t->in_super ? t->cur_grp : ++t->grp_seq;
}

/* Handles one packet read into slot n; returns 1 when it was queued for sending. */
static int tx_packet(tx_t *t, int n, u32 len) {
  u8 *buf = t->bufs + (u64)n * t->slot_size;
  u8 *ip = buf + HDR;
  u8 key[16];
  u32 ver = len ? ip[0] >> 4 : 0;
  if (ver == 4 && len >= 20) {
    memset(key, 0, 10); key[10] = 0xff; key[11] = 0xff;
    memcpy(key + 12, ip + 16, 4);
  } else if (ver == 6 && len >= 40) {
    memcpy(key, ip + 24, 16);
  } else {
    CNT(t->sh, CNT_DROP_TX_MALFORMED)++;
    return 0;
  }
  int slot = route_lookup(t->sh, key);
  if (slot == -2) { CNT(t->sh, CNT_DROP_TX_ROUTE_BUSY)++; return 0; }
  if (slot < 0 || slot >= MAX_PEERS || !V32(PEER(t->sh, slot), PO_ACTIVE)) {
    CNT(t->sh, CNT_DROP_TX_NO_ROUTE)++;
    return 0;
  }
  u8 *p = PEER(t->sh, slot);
  tx_key_t *k = tx_key(t, slot);
  if (!k) { CNT(t->sh, CNT_DROP_TX_NO_KEY)++; V64(p, PO_TX_NOKEY)++; return 0; }
  u32 namelen = 0;
  if (!tx_endpoint(p, t->names + (u64)n * 32, &namelen)) { CNT(t->sh, CNT_DROP_TX_NO_ROUTE)++; return 0; }
  if (!tx_seal(t, k, p, buf, len)) return 0;
  tx_queue(t, n, slot, HDR + len + TAG);
  t->msgs[n].msg_hdr.msg_namelen = namelen;
  return 1;
}

#define UDP_SEGMENT 103
#define GSO_MAX_BYTES 65000
#define EIO 5
#define EINVAL 22
#define EOPNOTSUPP 95

/* Groups consecutive slots of one super-packet into UDP_SEGMENT messages (all segments but the
 * last have the same size), or one message per slot without GSO. Returns the message count. */
static int tx_compose(tx_t *t, int from, int n, int gso) {
  int nm = 0;
  for (int i = from; i < n;) {
    int k = 1;
    u32 size = t->iov[i].iov_len, total = size;
    while (gso && i + k < n && t->grp[i + k] == t->grp[i] && t->iov[i + k - 1].iov_len == size &&
           t->iov[i + k].iov_len <= size && total + t->iov[i + k].iov_len <= GSO_MAX_BYTES) {
      total += t->iov[i + k].iov_len;
      k++;
    }
    struct msghdr *m = &t->out[nm].msg_hdr;
    *m = t->msgs[i].msg_hdr;
    m->msg_iov = &t->iov[i];
    m->msg_iovlen = k;
    if (k > 1) {
      u8 *c = t->gcmsg[nm];
      memset(c, 0, 24);
      *(u64 *)c = 18;
      *(int *)(c + 8) = SOL_UDP;
      *(int *)(c + 12) = UDP_SEGMENT;
      *(u16 *)(c + 16) = (u16)size;
      m->msg_control = c;
      m->msg_controllen = 24;
    }
    t->out_first[nm] = i;
    t->out_count[nm] = k;
    nm++;
    i += k;
  }
  return nm;
}

static void tx_sent(tx_t *t, int first, int count) {
  for (int i = first; i < first + count; i++) {
    u8 *p = PEER(t->sh, t->msg_slot[i]);
    u64 plain = t->iov[i].iov_len - HDR - TAG;
    V64(p, PO_TX_PACKETS)++;
    V64(p, PO_TX_BYTES) += plain;
    CNT(t->sh, CNT_TX_PACKETS)++;
    CNT(t->sh, CNT_TX_BYTES) += plain;
  }
}

static void tx_flush(tx_t *t, int n) {
  CNT(t->sh, CNT_TX_BATCHES)++;
  int nm = tx_compose(t, 0, n, t->gso), off = 0;
  while (off < nm) {
    int r = sendmmsg(t->udp, t->out + off, (u32)(nm - off), 0);
    if (r < 0) {
      int e = *__errno_location();
      if (e == EINTR) continue;
      if (t->out_count[off] > 1 && (e == EIO || e == EINVAL || e == EOPNOTSUPP)) {
        /* The path cannot segment for us: stop using GSO, resend the rest one by one. */
        t->gso = 0;
        CNT(t->sh, CNT_TX_GSO_FALLBACKS)++;
        nm = tx_compose(t, t->out_first[off], n, 0);
        off = 0;
        continue;
      }
      /* The message failed (EMSGSIZE, ECONNREFUSED from an ICMP error, …): skip it. */
      CNT(t->sh, CNT_DROP_TX_SEND_ERROR) += t->out_count[off];
      off++;
      continue;
    }
    for (int i = off; i < off + r; i++) {
      if (t->out_count[i] > 1) CNT(t->sh, CNT_TX_GSO_MESSAGES)++;
      tx_sent(t, t->out_first[i], t->out_count[i]);
    }
    off += r;
  }
}

/* Sends the keepalives the main thread asked for (empty transport messages). */
static void tx_keepalives(tx_t *t) {
  int n = 0;
  for (int slot = 0; slot < MAX_PEERS && n < BATCH; slot++) {
    u8 *p = PEER(t->sh, slot);
    u32 req = V32(p, PO_KA_REQ);
    if (req == V32(p, PO_KA_DONE)) continue;
    V32(p, PO_KA_DONE) = req;
    if (!V32(p, PO_ACTIVE)) continue;
    tx_key_t *k = tx_key(t, slot);
    u32 namelen = 0;
    if (!k || !tx_endpoint(p, t->names + (u64)n * 32, &namelen)) { CNT(t->sh, CNT_DROP_TX_NO_KEY)++; continue; }
    u8 *buf = t->bufs + (u64)n * t->slot_size;
    if (!tx_seal(t, k, p, buf, 0)) continue;
    tx_queue(t, n, slot, HDR + TAG);
    t->msgs[n].msg_hdr.msg_namelen = namelen;
    CNT(t->sh, CNT_TX_KEEPALIVES)++;
    n++;
  }
  if (n) tx_flush(t, n);
}

/* Offload mode: one TUN read is a virtio_net_hdr plus either a plain packet (maybe with its
 * checksum left to us) or a TCPv4/TCPv6 super-packet that we split into MSS-sized segments, each a
 * complete IP packet, sealed separately. Returns the new number of queued messages. */
static int tx_super(tx_t *t, int n, u32 r) {
  if (r < VNET + 20) { CNT(t->sh, CNT_DROP_TX_MALFORMED)++; return n; }
  u8 *h = t->super, *pkt = h + VNET;
  u32 len = r - VNET, gso = h[1], mss = rd16le(h + 4), cs_start = rd16le(h + 6), cs_off = rd16le(h + 8);
  if (gso == VNET_GSO_NONE) {
    if (len > t->mtu) { CNT(t->sh, CNT_DROP_TX_TOO_BIG)++; return n; }
    if (h[0] & VNET_F_NEEDS_CSUM) {
      if (cs_start + cs_off + 2 > len) { CNT(t->sh, CNT_DROP_TX_MALFORMED)++; return n; }
      *(u16 *)(pkt + cs_start + cs_off) = (u16)~csum_fold(csum_raw(pkt + cs_start, len - cs_start, 0));
    }
    memcpy(t->bufs + (u64)n * t->slot_size + HDR, pkt, len);
    return n + tx_packet(t, n, len);
  }
  /* `ihl` is the network header length: IPv4 (options allowed) or IPv6 without extensions. */
  int v6 = gso == VNET_GSO_TCPV6;
  u32 ihl = v6 ? 40 : (pkt[0] & 15) * 4;
  if ((gso != VNET_GSO_TCPV4 && !v6) || (pkt[0] >> 4) != (v6 ? 6 : 4) || (v6 && pkt[6] != 6) || ihl < 20 ||
      cs_start != ihl || len < ihl + 20 || mss == 0) {
    CNT(t->sh, CNT_DROP_TX_MALFORMED)++;
    return n;
  }
  u32 hdrlen = ihl + (pkt[ihl + 12] >> 4) * 4;
  if (hdrlen < ihl + 20 || hdrlen > len || hdrlen + mss > t->mtu) { CNT(t->sh, CNT_DROP_TX_MALFORMED)++; return n; }
  CNT(t->sh, CNT_TX_TSO_READS)++;
  u32 payload = len - hdrlen, id0 = rd16be(pkt + 4), seq0 = rd32be(pkt + ihl + 4), flags0 = pkt[ihl + 13];
  u32 nseg = payload ? (payload + mss - 1) / mss : 1;
  t->in_super = 1;
  t->cur_grp = ++t->grp_seq;
  for (u32 i = 0; i < nseg; i++) {
    if (n == BATCH) { tx_flush(t, n); n = 0; }
    u32 off = i * mss, chunk = payload - off < mss ? payload - off : mss;
    u8 *seg = t->bufs + (u64)n * t->slot_size + HDR;
    u32 tot = hdrlen + chunk;
    memcpy(seg, pkt, hdrlen);
    memcpy(seg + hdrlen, pkt + hdrlen + off, chunk);
    if (v6) {
      wr16be(seg + 4, tot - 40);
    } else {
      wr16be(seg + 2, tot);
      wr16be(seg + 4, id0 + i);
      ip4_checksum(seg, ihl);
    }
    u8 *tcp = seg + ihl;
    wr32be(tcp + 4, seq0 + off);
    u32 fl = flags0;
    if (i + 1 < nseg) fl &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) fl &= ~TCP_CWR;
    tcp[13] = (u8)fl;
    tcp[16] = 0; tcp[17] = 0;
    u64 ph = v6 ? pseudo6(seg, tot - ihl) : pseudo4(seg, tot - ihl);
    *(u16 *)(tcp + 16) = (u16)~csum_fold(csum_raw(tcp, tot - ihl, ph));
    n += tx_packet(t, n, tot);
  }
  t->in_super = 0;
  return n;
}

/* The TX loop: returns 0 when stopped, -errno on a fatal error. */
int dp_tx_run(tx_t *t) {
  struct pollfd pf[2];
  u64 wake_buf;
  V32(t->sh, G_TX_STATUS) = 1;
  for (;;) {
    if (V32(t->sh, G_STOP)) break;
    int n = 0, idle = 0;
    while (n < BATCH) {
      u8 *buf = t->bufs + (u64)n * t->slot_size;
      ssize_t r = t->offload ? read(t->tun, t->super, VNET + MAX_SUPER) : read(t->tun, buf + HDR, t->slot_size - HDR - TAG);
      if (r < 0) {
        int e = *__errno_location();
        if (e == EINTR) continue;
        if (e == EAGAIN) { idle = 1; break; }
        CNT(t->sh, CNT_TX_TUN_READ_ERRORS)++;
        if (e == EBADF) { V32(t->sh, G_TX_ERRNO) = e; V32(t->sh, G_TX_STATUS) = 2; return -e; }
        idle = 1;
        break;
      }
      if (t->offload) { n = tx_super(t, n, (u32)r); continue; }
      if (r > (ssize_t)t->mtu) { CNT(t->sh, CNT_DROP_TX_TOO_BIG)++; continue; }
      n += tx_packet(t, n, (u32)r);
    }
    if (n) tx_flush(t, n);
    if (!idle) continue;
    pf[0].fd = t->tun; pf[0].events = POLLIN; pf[0].revents = 0;
    pf[1].fd = t->wake; pf[1].events = POLLIN; pf[1].revents = 0;
    if (poll(pf, 2, -1) < 0) continue;
    if (pf[1].revents) {
      read(t->wake, &wake_buf, 8);
      tx_keepalives(t);
    }
  }
  V32(t->sh, G_TX_STATUS) = 2;
  return 0;
}

/* ---------------------------------------------------------------- RX */

typedef struct {
  EVP_CIPHER_CTX *ctx;
  u32 seq;
  u32 valid;
  u32 index;
  u64 last;                    /* RFC 6479: highest counter seen */
  u64 ring[REPLAY_WORDS];
} rx_key_t;

#define CMSG_SPACE_GRO 64
#define UDP_GRO 104
#define MAX_COALESCE 64

typedef struct {
  u8 *sh;
  int tun, udp, stopfd;
  u32 slot_size;
  u8 *bufs;
  u8 names[BATCH][32];
  u8 cmsg[BATCH][CMSG_SPACE_GRO];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  int offload;                 /* TUN has IFF_VNET_HDR; socket has UDP_GRO; coalesce TCP */
  u8 *pend;                    /* VNET + MAX_SUPER: the TCP run being coalesced */
  u32 pend_len, pend_segs, pend_mss, pend_hdrlen, pend_next_seq, pend_l3;
  int pend_closed;
  rx_key_t keys[MAX_PEERS * 2];
} rx_t;

void *dp_rx_new(u8 *shared, int tun, int udp, int stopfd, u32 mtu, int offload) {
  rx_t *r = calloc(1, sizeof(rx_t));
  if (!r) return 0;
  r->sh = shared; r->tun = tun; r->udp = udp; r->stopfd = stopfd; r->offload = offload;
  u32 need = HDR + mtu + TAG + 64;
  if (need < CTRL_SLOT_SIZE + 64) need = CTRL_SLOT_SIZE + 64;
  if (offload) need = MAX_SUPER + 64; /* a GRO batch of datagrams arrives as one message */
  r->slot_size = (need + 63) & ~63u;
  r->bufs = calloc(BATCH, r->slot_size);
  if (offload) r->pend = calloc(1, VNET + MAX_SUPER + 64);
  if (!r->bufs || (offload && !r->pend)) { free(r->bufs); free(r->pend); free(r); return 0; }
  return r;
}

void dp_rx_free(rx_t *r) {
  if (!r) return;
  for (int i = 0; i < MAX_PEERS * 2; i++) if (r->keys[i].ctx) EVP_CIPHER_CTX_free(r->keys[i].ctx);
  free(r->bufs); free(r->pend); free(r);
}

static int replay_check(rx_key_t *k, u64 c) {
  if (c >= REJECT_AFTER_MESSAGES) return 0;
  if (c > k->last) return 1;
  if (k->last - c > REPLAY_WINDOW) return 0;
  return !((k->ring[(c >> 6) & (REPLAY_WORDS - 1)] >> (c & 63)) & 1);
}

static int replay_update(rx_key_t *k, u64 c) {
  u64 block = c >> 6;
  if (c > k->last) {
    u64 cur = k->last >> 6, diff = block - cur;
    if (diff > REPLAY_WORDS) diff = REPLAY_WORDS;
    for (u64 i = 1; i <= diff; i++) k->ring[(cur + i) & (REPLAY_WORDS - 1)] = 0;
    k->last = c;
  } else if (k->last - c > REPLAY_WINDOW) {
    return 0;
  }
  u64 *w = &k->ring[block & (REPLAY_WORDS - 1)];
  u64 bit = 1ULL << (c & 63);
  if (*w & bit) return 0;
  *w |= bit;
  return 1;
}

static u32 index_hash(u32 x) {
  u32 h = x ^ (x >> 16);
  h *= 0x45d9f3bu;
  return h ^ (h >> 16);
}

/* Finds the receive key for `idx`; returns the key and sets *slot, or 0. */
static rx_key_t *rx_key(rx_t *r, u32 idx, int *slot) {
  u8 *tab = r->sh + INDEX_OFF;
  u32 h = index_hash(idx) & (INDEX_BUCKETS - 1);
  for (u32 n = 0; n < INDEX_BUCKETS; n++) {
    volatile u64 *e = (volatile u64 *)(tab + 8 * ((h + n) & (INDEX_BUCKETS - 1)));
    u64 v = *e;
    u32 ref = (u32)(v >> 32);
    if (ref == 0) return 0;
    if ((u32)v != idx) continue;
    u32 which = ref - 1;
    if (which >= MAX_PEERS * 2) return 0;
    int s = (int)(which >> 1);
    u8 *p = PEER(r->sh, s);
    u8 *kb = p + PO_RK0 + RK_SIZE * (which & 1);
    rx_key_t *k = &r->keys[which];
    u32 s1 = V32(kb, RK_SEQ);
    if (s1 & 1) return 0;
    if (s1 != k->seq) {
      u8 key[32];
      memcpy(key, kb + RK_KEY, 32);
      u32 valid = V32(kb, RK_VALID), kidx = V32(kb, RK_INDEX);
      if (V32(kb, RK_SEQ) != s1) { memset(key, 0, 32); return 0; }
      if (!k->ctx) k->ctx = EVP_CIPHER_CTX_new();
      k->valid = valid && k->ctx && EVP_DecryptInit_ex(k->ctx, EVP_aes_256_gcm(), 0, key, 0) == 1;
      k->index = kidx;
      k->last = 0;
      memset(k->ring, 0, sizeof(k->ring));
      k->seq = s1;
      memset(key, 0, 32);
    }
    if (!k->valid || k->index != idx || !V32(p, PO_ACTIVE)) return 0;
    *slot = s;
    return k;
  }
  return 0;
}

static int rx_open(rx_key_t *k, u8 *buf, u32 len, u64 ctr) {
  u8 nonce[12];
  int outl = 0;
  u32 clen = len - HDR - TAG;
  wr32le(nonce, 0);
  wr64le(nonce + 4, ctr);
  if (EVP_DecryptInit_ex(k->ctx, 0, 0, 0, nonce) != 1) return 0;
  if (EVP_DecryptUpdate(k->ctx, 0, &outl, buf, HDR) != 1) return 0;
  if (clen && EVP_DecryptUpdate(k->ctx, buf + HDR, &outl, buf + HDR, (int)clen) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_SET_TAG, TAG, buf + HDR + clen) != 1) return 0;
  return EVP_DecryptFinal_ex(k->ctx, buf + HDR + clen, &outl) == 1;
}

/* Checks the decrypted packet's source against the peer's allowed prefixes; sets *plen to the
 * IP total length. 1 ok, 0 spoofed, -1 malformed. */
static int rx_inner(u8 *p, const u8 *ip, u32 len, u32 *plen) {
  u32 ver = ip[0] >> 4;
  if (ver == 4) {
    if (len < 20) return -1;
    u32 ihl = (ip[0] & 15) * 4, total = rd16be(ip + 2);
    if (ihl < 20 || total < ihl || total > len) return -1;
    *plen = total;
    u32 allowed = V32(p, PO_V4_LEN);
    if (allowed > 32) return 0;
    return prefix_match(p + PO_V4_NET, ip + 12, allowed);
  }
  if (ver == 6) {
    if (len < 40) return -1;
    u32 total = 40 + rd16be(ip + 4);
    if (total > len) return -1;
    *plen = total;
    u32 allowed = V32(p, PO_V6_LEN);
    if (allowed > 128) return 0;
    return prefix_match(p + PO_V6_NET, ip + 8, allowed);
  }
  return -1;
}

static void rx_note_source(u8 *p, const u8 *name, u32 namelen, u32 which) {
  V64(p, PO_RX_AUTH)++;
  V32(p, PO_RX_KEY_USED) = which;
  if (V32(p, PO_RX_SRC_LEN) == namelen && memcmp(p + PO_RX_SRC, name, namelen) == 0) return;
  u32 s = V32(p, PO_RX_SRC_SEQ);
  V32(p, PO_RX_SRC_SEQ) = s + 1;
  memcpy(p + PO_RX_SRC, name, namelen);
  V32(p, PO_RX_SRC_LEN) = namelen;
  V32(p, PO_RX_SRC_SEQ) = s + 2;
}

/* Pushes a non-transport datagram to the control ring; 1 when queued. */
static int rx_control(rx_t *r, const u8 *buf, u32 len, const u8 *name, u32 namelen) {
  if (len > CTRL_MAX_DATAGRAM) { CNT(r->sh, CNT_DROP_RX_CONTROL_TOO_BIG)++; return 0; }
  u32 head = V32(r->sh, G_CTRL_HEAD), tail = V32(r->sh, G_CTRL_TAIL);
  if (head - tail >= CTRL_SLOTS) { CNT(r->sh, CNT_DROP_RX_CONTROL_RING_FULL)++; return 0; }
  u8 *slot = r->sh + CTRL_OFF + (u64)(head % CTRL_SLOTS) * CTRL_SLOT_SIZE;
  memcpy(slot + 8, name, 32);
  memcpy(slot + CTRL_DATA_OFF, buf, len);
  V32(slot, 4) = namelen > 32 ? 32 : namelen;
  V32(slot, 0) = len;
  V32(r->sh, G_CTRL_HEAD) = head + 1;
  CNT(r->sh, CNT_RX_CONTROL)++;
  return 1;
}

static void rx_write(rx_t *r, const u8 *p, u32 len) {
  for (;;) {
    ssize_t w = write(r->tun, p, len);
    if (w < 0 && *__errno_location() == EINTR) continue;
    if (w < 0) CNT(r->sh, CNT_DROP_RX_TUN_WRITE_ERROR)++;
    return;
  }
}

/* Writes the pending TCP run: one packet as is, several as one GSO super-packet whose TCP
 * checksum the kernel completes (integrity rests on the AEAD of every segment). */
static void rx_flush_pending(rx_t *r) {
  if (!r->pend_len) return;
  u8 *v = r->pend, *ip = r->pend + VNET;
  u32 l3 = r->pend_l3;
  memset(v, 0, VNET);
  if (r->pend_segs > 1) {
    u32 tcp_len = r->pend_len - l3;
    if (l3 == 40) {
      wr16be(ip + 4, tcp_len);
    } else {
      wr16be(ip + 2, r->pend_len);
      ip4_checksum(ip, l3);
    }
    *(u16 *)(ip + l3 + 16) = csum_fold(pseudo_tcp(ip, l3, tcp_len));
    v[0] = VNET_F_NEEDS_CSUM;
    v[1] = l3 == 40 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
    wr16le(v + 2, r->pend_hdrlen);
    wr16le(v + 4, r->pend_mss);
    wr16le(v + 6, l3);
    wr16le(v + 8, 16);
    CNT(r->sh, CNT_RX_COALESCED_WRITES)++;
  }
  rx_write(r, v, VNET + r->pend_len);
  r->pend_len = 0;
}

/* Offload mode delivery: TCP data segments (IPv4 without options or fragments, IPv6 without
 * extension headers) join a run as the kernel's tcp_gro_receive would; everything else is written
 * at once behind a zero virtio_net_hdr. `pkt` has at least VNET writable bytes in front of it
 * (the spent transport header). */
static void rx_deliver_offload(rx_t *r, u8 *pkt, u32 len) {
  u32 l3 = 0, hdrlen = 0, payload = 0;
  if (len >= 40 && pkt[0] == 0x45 && pkt[9] == 6 && (rd16be(pkt + 6) & 0x3fff) == 0) l3 = 20;
  else if (len >= 60 && (pkt[0] >> 4) == 6 && pkt[6] == 6) l3 = 40;
  if (l3) {
    u8 *tcp = pkt + l3;
    hdrlen = l3 + (tcp[12] >> 4) * 4;
    u32 fl = tcp[13];
    if (hdrlen < l3 + 20 || hdrlen >= len || !(fl & TCP_ACK) || (fl & ~(TCP_ACK | TCP_PSH))) l3 = 0;
    payload = len - hdrlen;
  }
  if (!l3) {
    rx_flush_pending(r);
    memset(pkt - VNET, 0, VNET);
    rx_write(r, pkt - VNET, len + VNET);
    return;
  }
  u8 *pip = r->pend + VNET, *tcp = pkt + l3, *ptcp = pip + l3;
  int same_l3 = l3 == 20
    ? pkt[1] == pip[1] && pkt[8] == pip[8] && (pkt[6] & 0x40) == (pip[6] & 0x40) && memcmp(pkt + 12, pip + 12, 8) == 0
    : memcmp(pkt, pip, 4) == 0 && pkt[7] == pip[7] && memcmp(pkt + 8, pip + 8, 32) == 0;
  if (r->pend_len && !r->pend_closed && r->pend_l3 == l3 && r->pend_segs < MAX_COALESCE &&
      r->pend_len + payload <= MAX_SUPER && payload <= r->pend_mss && hdrlen == r->pend_hdrlen &&
      rd32be(tcp + 4) == r->pend_next_seq && same_l3 && memcmp(tcp, ptcp, 4) == 0 &&
      memcmp(tcp + 8, ptcp + 8, 4) == 0 && memcmp(tcp + 20, ptcp + 20, hdrlen - l3 - 20) == 0) {
    memcpy(pip + r->pend_len, pkt + hdrlen, payload);
    r->pend_len += payload;
    r->pend_segs++;
    r->pend_next_seq += payload;
    if (tcp[13] & TCP_PSH) { ptcp[13] |= TCP_PSH; r->pend_closed = 1; }
    if (payload < r->pend_mss) r->pend_closed = 1;
    return;
  }
  rx_flush_pending(r);
  memcpy(pip, pkt, len);
  r->pend_len = len;
  r->pend_l3 = l3;
  r->pend_segs = 1;
  r->pend_mss = payload;
  r->pend_hdrlen = hdrlen;
  r->pend_next_seq = rd32be(tcp + 4) + payload;
  r->pend_closed = (tcp[13] & TCP_PSH) != 0;
}

/* Handles one datagram; returns 1 if it went to the control ring. */
static int rx_datagram(rx_t *r, u8 *buf, u32 len, int flags, const u8 *name, u32 namelen) {
  u8 *sh = r->sh;
  if (flags & MSG_TRUNC) { CNT(sh, CNT_DROP_RX_TRUNCATED)++; return 0; }
  if (len < 1) { CNT(sh, CNT_DROP_RX_SHORT)++; return 0; }
  if (buf[0] != MSG_TRANSPORT) return rx_control(r, buf, len, name, namelen);
  if (len < HDR + TAG) { CNT(sh, CNT_DROP_RX_SHORT)++; return 0; }
  if (buf[1] | buf[2] | buf[3]) { CNT(sh, CNT_DROP_RX_MALFORMED_HEADER)++; return 0; }
  int slot = -1;
  u32 idx = rd32le(buf + 4);
  rx_key_t *k = rx_key(r, idx, &slot);
  if (!k) { CNT(sh, CNT_DROP_RX_UNKNOWN_INDEX)++; return 0; }
  u64 ctr = rd64le(buf + 8);
  if (!replay_check(k, ctr)) { CNT(sh, CNT_DROP_RX_REPLAY)++; return 0; }
  if (!rx_open(k, buf, len, ctr)) { CNT(sh, CNT_DROP_RX_BAD_TAG)++; return 0; }
  if (!replay_update(k, ctr)) { CNT(sh, CNT_DROP_RX_REPLAY)++; return 0; }
  u8 *p = PEER(sh, slot);
  rx_note_source(p, name, namelen, (u32)(k - r->keys) & 1);
  u32 plain = len - HDR - TAG;
  if (plain == 0) { CNT(sh, CNT_RX_KEEPALIVES)++; return 0; }
  u32 plen = 0;
  int ok = rx_inner(p, buf + HDR, plain, &plen);
  if (ok < 0) { CNT(sh, CNT_DROP_RX_MALFORMED_INNER)++; return 0; }
  if (ok == 0) { CNT(sh, CNT_DROP_RX_SPOOFED)++; return 0; }
  if (r->offload) rx_deliver_offload(r, buf + HDR, plen);
  else rx_write(r, buf + HDR, plen);
  V64(p, PO_RX_PACKETS)++;
  V64(p, PO_RX_BYTES) += plen;
  CNT(sh, CNT_RX_PACKETS)++;
  CNT(sh, CNT_RX_BYTES) += plen;
  return 0;
}

/* UDP_GRO segment size from a received message's control data, 0 when absent. */
static u32 rx_gro_size(struct msghdr *m) {
  u8 *c = m->msg_control;
  u64 off = 0, total = m->msg_controllen;
  while (c && off + 16 <= total) {
    u64 clen = *(u64 *)(c + off);
    if (clen < 16 || off + clen > total) break;
    if (*(int *)(c + off + 8) == SOL_UDP && *(int *)(c + off + 12) == UDP_GRO && clen >= 20) {
      int v = *(int *)(c + off + 16);
      return v > 0 ? (u32)v : 0;
    }
    off += (clen + 7) & ~7ULL;
  }
  return 0;
}

/* The RX loop: returns 1 when control datagrams were queued (the Worker notifies the main
 * thread and calls again), 0 when stopped, -errno on a fatal error. */
int dp_rx_run(rx_t *r) {
  struct pollfd pf[2];
  V32(r->sh, G_RX_STATUS) = 1;
  for (;;) {
    if (V32(r->sh, G_STOP)) break;
    for (int i = 0; i < BATCH; i++) {
      r->iov[i].iov_base = r->bufs + (u64)i * r->slot_size;
      r->iov[i].iov_len = r->slot_size;
      struct msghdr *m = &r->msgs[i].msg_hdr;
      m->msg_name = r->names[i];
      m->msg_namelen = 32;
      m->msg_iov = &r->iov[i];
      m->msg_iovlen = 1;
      m->msg_control = r->offload ? r->cmsg[i] : 0;
      m->msg_controllen = r->offload ? CMSG_SPACE_GRO : 0;
      m->msg_flags = 0;
      r->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(r->udp, r->msgs, BATCH, MSG_DONTWAIT, 0);
    if (n < 0) {
      int e = *__errno_location();
      if (e == EAGAIN) {
        pf[0].fd = r->udp; pf[0].events = POLLIN; pf[0].revents = 0;
        pf[1].fd = r->stopfd; pf[1].events = POLLIN; pf[1].revents = 0;
        poll(pf, 2, -1);
        continue;
      }
      if (e == EINTR) continue;
      CNT(r->sh, CNT_RX_RECV_ERRORS)++;
      if (e == EBADF) { V32(r->sh, G_RX_ERRNO) = e; V32(r->sh, G_RX_STATUS) = 2; return -e; }
      continue;
    }
    CNT(r->sh, CNT_RX_BATCHES)++;
    int ctrl = 0;
    for (int i = 0; i < n; i++) {
      struct msghdr *m = &r->msgs[i].msg_hdr;
      u8 *buf = r->bufs + (u64)i * r->slot_size;
      u32 len = r->msgs[i].msg_len, seg = r->offload ? rx_gro_size(m) : 0;
      if (seg == 0 || seg >= len) {
        ctrl |= rx_datagram(r, buf, len, m->msg_flags, r->names[i], m->msg_namelen);
        continue;
      }
      CNT(r->sh, CNT_RX_GRO_BATCHES)++;
      for (u32 off = 0; off < len; off += seg) {
        u32 one = len - off < seg ? len - off : seg;
        ctrl |= rx_datagram(r, buf + off, one, m->msg_flags, r->names[i], m->msg_namelen);
      }
    }
    if (r->offload) rx_flush_pending(r);
    if (ctrl) return 1;
  }
  V32(r->sh, G_RX_STATUS) = 2;
  return 0;
}

/* The Internet checksum of p[0..len) as the packet paths compute it (exported for tests). */
int dp_inet_checksum(const u8 *p, u32 len) {
  return (u16)~csum_fold(csum_raw(p, len, 0));
}

/* ABI self-check for the loader: sizes the kernel expects on x86-64. */
int dp_abi_check(void) {
  return sizeof(struct msghdr) == 56 && sizeof(struct mmsghdr) == 64 && sizeof(struct pollfd) == 8 &&
         sizeof(struct iovec) == 16 && sizeof(u64) == 8;
}
