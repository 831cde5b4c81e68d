/* RX state: per-key OpenSSL contexts, RFC 6479 replay windows, receiver-index lookup, open. */

typedef struct {
  EVP_CIPHER_CTX *ctx;
  u32 seq;
  u32 valid;
  u32 index;
  u64 last;                    /* RFC 6479: highest counter seen */
  u64 ring[REPLAY_WORDS];
} rx_key_t;

#define RELAY_Q 256
#define CMSG_SPACE_GRO 64
#define UDP_GRO 104
#define MAX_COALESCE 64

typedef struct {
  u8 *sh;
  int tun, udp, stopfd;
  u32 slot_size;
  u32 batch;                   /* messages per recvmmsg: BATCH, or RX_GRO_BATCH with offload */
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
  rx_key_t cell_keys[MAX_PEERS * 2];   /* type 5 (PathCell), same physical slot as keys[] */
  rx_key_t relay_keys[MAX_PEERS * 2];  /* type 7 (RelayCell) */
  send_key_t relay_send[MAX_PEERS]; /* type-7 keys: only the RX loop advances their counters */
  /* relayed cells queued for one sendmmsg (sealed in place in bufs) */
  u32 rq_n;
  u8 rq_names[RELAY_Q][32];
  int rq_slot[RELAY_Q];
  struct iovec rq_iov[RELAY_Q];
  struct mmsghdr rq_msgs[RELAY_Q];
} rx_t;

void *dp_rx_new(u8 *shared, int tun, int udp, int stopfd, u32 mtu, int offload) {
  rx_t *r = calloc(1, sizeof(rx_t));
  if (!r) return 0;
  r->sh = shared; r->tun = tun; r->udp = udp; r->stopfd = stopfd; r->offload = offload;
  u32 need = HDR + mtu + TAG + 64;
  if (need < CTRL_SLOT_SIZE + 64) need = CTRL_SLOT_SIZE + 64;
  if (offload) need = MAX_SUPER + 64; /* a GRO batch of datagrams arrives as one message */
  r->slot_size = (need + 63) & ~63u;
  /* With GRO a message is a whole batch of datagrams (up to 64 KiB): RX_GRO_BATCH of them per
   * recvmmsg is plenty, and keeps 3 MiB of receive slots out of the node's resident memory. */
  r->batch = offload ? RX_GRO_BATCH : BATCH;
  r->bufs = calloc(r->batch, r->slot_size);
  if (offload) r->pend = calloc(1, VNET + MAX_SUPER + 64);
  if (!r->bufs || (offload && !r->pend)) { free(r->bufs); free(r->pend); free(r); return 0; }
  return r;
}

void dp_rx_free(rx_t *r) {
  if (!r) return;
  for (int i = 0; i < MAX_PEERS * 2; i++) {
    if (r->keys[i].ctx) EVP_CIPHER_CTX_free(r->keys[i].ctx);
    if (r->cell_keys[i].ctx) EVP_CIPHER_CTX_free(r->cell_keys[i].ctx);
    if (r->relay_keys[i].ctx) EVP_CIPHER_CTX_free(r->relay_keys[i].ctx);
  }
  for (int i = 0; i < MAX_PEERS; i++) if (r->relay_send[i].ctx) EVP_CIPHER_CTX_free(r->relay_send[i].ctx);
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

/* (Re)initialises one receive key: fresh context key, fresh replay window. */
static void rx_key_load(rx_key_t *k, const u8 *key, u32 valid, u32 kidx) {
  if (!k->ctx) k->ctx = EVP_CIPHER_CTX_new();
  k->valid = valid && k->ctx && EVP_DecryptInit_ex(k->ctx, EVP_aes_256_gcm(), 0, key, 0) == 1;
  k->index = kidx;
  k->last = 0;
  memset(k->ring, 0, sizeof(k->ring));
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
      u8 key[96];
      u8 *xb = p + PO_XK0 + XK_SIZE * (which & 1);
      memcpy(key, kb + RK_KEY, 32);
      memcpy(key + 32, xb + XK_CELL, 32);
      memcpy(key + 64, xb + XK_RELAY, 32);
      u32 valid = V32(kb, RK_VALID), kidx = V32(kb, RK_INDEX);
      if (V32(kb, RK_SEQ) != s1) { memset(key, 0, 96); return 0; }
      rx_key_load(k, key, valid, kidx);
      rx_key_load(&r->cell_keys[which], key + 32, valid, kidx);
      rx_key_load(&r->relay_keys[which], key + 64, valid, kidx);
      k->seq = s1;
      memset(key, 0, 96);
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
