/* The TX loop: TUN → route → seal in place → sendmmsg (split TSO super-packets, UDP GSO). */

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
  send_key_t keys[MAX_PEERS];
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

/* The send key of `slot`, reloaded when the main thread installed a new one. */
static send_key_t *tx_key(tx_t *t, int slot) {
  return send_key_load(PEER(t->sh, slot), &t->keys[slot], PO_SK_KEY, PO_SK_COUNTER, 0);
}

/* Seals buf[HDR .. HDR+len) in place as a transport message with the next counter. */
static int tx_seal(tx_t *t, send_key_t *k, u8 *p, u8 *buf, u32 len) {
  return send_key_seal(k, p, PO_SK_COUNTER, MSG_TRANSPORT, buf, len, &CNT(t->sh, CNT_DROP_TX_COUNTER_EXHAUSTED),
                       &CNT(t->sh, CNT_DROP_TX_SEAL_ERROR));
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
  send_key_t *k = tx_key(t, slot);
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
    send_key_t *k = tx_key(t, slot);
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
