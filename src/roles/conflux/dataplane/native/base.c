/*
 * veilnet data plane: the per-packet loops, compiled at run time by bun:ffi's TinyCC.
 *
 * TX (a thread of its own): TUN read until EAGAIN or BATCH → route → seal in place → one sendmmsg.
 * RX (a thread of its own): recvmmsg(BATCH) → index lookup → replay pre-check → open in place →
 *                          replay update → inner source check → TUN write. Non-transport datagrams
 *                          go to the control ring for the main thread.
 *
 * Self-contained on purpose: no system headers (a deployed host may have none). Layout numbers
 * (offsets, sizes, counter indices) arrive as -D defines from layout.ts. Shared memory is written
 * by the main thread under seqlocks (odd = being written); x86-64 TSO plus TinyCC's lack of
 * reordering make volatile loads/stores sufficient here.
 *
 * Never crashes on input: every length is checked before use; every drop is counted by reason.
 *
 * One translation unit, kept in several files by concern and concatenated in this order by
 * native.ts: base.c (types, libc/OpenSSL declarations, byte and checksum helpers), route.c,
 * tx.c, rx-state.c (keys, replay, index lookup), rx-deliver.c (source check, control ring,
 * coalescing), relay.c (path cells: open, label switch, relay), rx.c (the RX loop).
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

/* ---------------------------------------------------------------- Anchor transport seal
 * Writes the 16-byte header (type, 3 zero bytes, receiver index LE, counter LE) and seals
 * buf[HDR .. HDR+len) in place with AES-256-GCM under `ctx`'s key: nonce = 0^4 || counter LE, the
 * header as associated data, the tag after the ciphertext. 1 on success. The caller owns the
 * counter (one sealer per key). */
static int anchor_seal(EVP_CIPHER_CTX *ctx, u8 type, u32 receiver, u64 ctr, u8 *buf, u32 len) {
  buf[0] = type; buf[1] = 0; buf[2] = 0; buf[3] = 0;
  wr32le(buf + 4, receiver);
  wr64le(buf + 8, ctr);
  u8 nonce[12];
  wr32le(nonce, 0);
  wr64le(nonce + 4, ctr);
  int outl = 0;
  return EVP_EncryptInit_ex(ctx, 0, 0, 0, nonce) == 1 &&
         EVP_EncryptUpdate(ctx, 0, &outl, buf, HDR) == 1 &&
         (!len || EVP_EncryptUpdate(ctx, buf + HDR, &outl, buf + HDR, (int)len) == 1) &&
         EVP_EncryptFinal_ex(ctx, buf + HDR + len, &outl) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, buf + HDR + len) == 1;
}

/* ---------------------------------------------------------------- cached send keys
 * A loop's copy of one peer slot's send key (transport key for TX, relay key for RX). Only the
 * loop that owns it advances its counter, and mirrors it into the slot for the main thread. */
typedef struct {
  EVP_CIPHER_CTX *ctx;
  u32 seq;       /* PO_SK_SEQ value this cache was loaded at (0 = never) */
  u32 valid;
  u32 receiver;
  u64 counter;   /* next counter */
} send_key_t;

/* `k`, reloaded from peer slot `p` if the main thread installed a new send key since (PO_SK_SEQ
 * seqlock; odd = being written): the key at `key_off`, counting from PO_SK_START or — `from_zero`,
 * for relay keys, fresh per link key — from 0, mirrored at `counter_off`. Null: no usable key. */
static send_key_t *send_key_load(u8 *p, send_key_t *k, u32 key_off, u32 counter_off, int from_zero) {
  u32 s1 = V32(p, PO_SK_SEQ);
  if (s1 == k->seq) return k->valid ? k : 0;
  if (s1 & 1) return 0;
  u8 key[32];
  memcpy(key, p + key_off, 32);
  u32 valid = V32(p, PO_SK_VALID), receiver = V32(p, PO_SK_RECEIVER);
  u64 start = from_zero ? 0 : (u64)V32(p, PO_SK_START_LO) | ((u64)V32(p, PO_SK_START_HI) << 32);
  if (V32(p, PO_SK_SEQ) != s1) { memset(key, 0, 32); return 0; }
  if (!k->ctx) k->ctx = EVP_CIPHER_CTX_new();
  k->valid = 0;
  if (valid && k->ctx && EVP_EncryptInit_ex(k->ctx, EVP_aes_256_gcm(), 0, key, 0) == 1) {
    k->valid = 1;
    k->receiver = receiver;
    k->counter = start;
    V64(p, counter_off) = start;
  }
  k->seq = s1;
  memset(key, 0, 32);
  return k->valid ? k : 0;
}

/* Seals buf[HDR .. HDR+len) in place as a `type` message under `k` with its next counter. 0 when
 * the key's counter is used up (counted in *exhausted) or sealing failed (counted in *failed). */
static int send_key_seal(send_key_t *k, u8 *p, u32 counter_off, u8 type, u8 *buf, u32 len,
                         volatile u64 *exhausted, volatile u64 *failed) {
  if (k->counter >= REJECT_AFTER_MESSAGES) { (*exhausted)++; return 0; }
  u64 ctr = k->counter++;
  V64(p, counter_off) = k->counter;
  if (!anchor_seal(k->ctx, type, k->receiver, ctr, buf, len)) { (*failed)++; return 0; }
  return 1;
}

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

/* The Internet checksum of p[0..len) as the packet paths compute it (exported for tests). */
int dp_inet_checksum(const u8 *p, u32 len) {
  return (u16)~csum_fold(csum_raw(p, len, 0));
}

/* ABI self-check for the loader: sizes the kernel expects on x86-64. */
int dp_abi_check(void) {
  return sizeof(struct msghdr) == 56 && sizeof(struct mmsghdr) == 64 && sizeof(struct pollfd) == 8 &&
         sizeof(struct iovec) == 16 && sizeof(u64) == 8;
}
