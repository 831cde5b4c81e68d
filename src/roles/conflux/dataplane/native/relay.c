/* Path cells in the RX loop: open every cell natively, label-switch DATA/KEEPALIVE cells of paths
 * that only traverse this node, re-seal them as relay cells for the next link and send them in the
 * same batch; hand every other cell up to the main thread already opened.
 *
 *   type 5 PathCell   sealed by the main thread (cell key = HKDF(link key, "veilnet path cell key v1"))
 *   type 7 RelayCell  sealed here, by the RX loop (relay key = HKDF(link key, "veilnet path relay key v1"))
 *
 * Each receive key (transport, cell, relay; per physical slot) has its own replay window, and each
 * send key exactly one sealer: the relay send counter lives only in this loop. */

#define MSG_PATH_CELL 5
#define MSG_RELAY_CELL 7
#define CELL_HDR 6
#define CELL_CMD_DATA 6
#define CELL_CMD_KEEPALIVE 7
#define CELL_KEEPALIVE_BODY 9
#define CELL_MIN_DATA 32
#define CELL_MAX (1500 - 28 - 32)
#define LABEL(sh, e) ((sh) + LABEL_ENTRIES_OFF + (u64)(e) * LABEL_ENTRY)

static u32 label_hash(u32 slot, u32 pid) { return index_hash(pid ^ ((slot + 1) * 0x9e3779b1u)); }

/* One probe sequence; 1 found (sets outputs), 0 absent. Bounded so torn reads cannot loop. */
static int label_lookup_once(u8 *sh, u32 slot, u32 pid, u32 *oslot, u32 *opid, u32 *eidx) {
  volatile u32 *b = (volatile u32 *)(sh + LABEL_BUCKETS_OFF);
  u32 h = label_hash(slot, pid) & (LABEL_BUCKETS - 1);
  for (u32 n = 0; n < LABEL_BUCKETS; n++) {
    u32 ref = b[(h + n) & (LABEL_BUCKETS - 1)];
    if (ref == 0) return 0;
    u32 e = ref - 1;
    if (e >= LABEL_MAX) return 0;
    u8 *le = LABEL(sh, e);
    if (V32(le, LE_IN_SLOT) != slot || V32(le, LE_IN_PID) != pid) continue;
    *oslot = V32(le, LE_OUT_SLOT);
    *opid = V32(le, LE_OUT_PID);
    *eidx = e;
    return 1;
  }
  return 0;
}

/* 1 found, 0 absent, -2 the table stayed busy (being rewritten). */
static int label_lookup(u8 *sh, u32 slot, u32 pid, u32 *oslot, u32 *opid, u32 *eidx) {
  for (int tries = 0; tries < SPIN_LIMIT; tries++) {
    u32 s1 = V32(sh, G_LABEL_SEQ);
    if (s1 & 1) continue;
    int r = label_lookup_once(sh, slot, pid, oslot, opid, eidx);
    if (V32(sh, G_LABEL_SEQ) == s1) return r;
  }
  return -2;
}

/* The relay send key of `slot`, reloaded when the main thread installed a new link send key. */
static send_key_t *relay_key(rx_t *r, u32 slot) {
  return send_key_load(PEER(r->sh, slot), &r->relay_send[slot], PO_RS_KEY, PO_RS_COUNTER, 1);
}

/* Seals buf[HDR .. HDR+len) in place as a RelayCell with the next relay counter. */
static int relay_seal(rx_t *r, send_key_t *k, u8 *p, u8 *buf, u32 len) {
  return send_key_seal(k, p, PO_RS_COUNTER, MSG_RELAY_CELL, buf, len,
                       &CNT(r->sh, CNT_DROP_RX_RELAY_COUNTER_EXHAUSTED), &CNT(r->sh, CNT_DROP_RX_RELAY_NO_OUT_KEY));
}

/* Sends every queued relayed cell (one sendmmsg per RELAY_Q). */
static void rx_relay_flush(rx_t *r) {
  u32 n = r->rq_n, off = 0;
  if (!n) return;
  CNT(r->sh, CNT_RX_RELAY_BATCHES)++;
  while (off < n) {
    int s = sendmmsg(r->udp, r->rq_msgs + off, n - off, 0);
    if (s < 0) {
      if (*__errno_location() == EINTR) continue;
      CNT(r->sh, CNT_DROP_RX_RELAY_SEND_ERROR)++; /* this message failed (EMSGSIZE, ICMP error…) */
      off++;
      continue;
    }
    for (u32 i = off; i < off + (u32)s; i++) {
      u8 *p = PEER(r->sh, r->rq_slot[i]);
      u64 plain = r->rq_iov[i].iov_len - HDR - TAG;
      V64(p, PO_RELAY_PACKETS)++;
      V64(p, PO_RELAY_BYTES) += plain;
      CNT(r->sh, CNT_RX_RELAYED)++;
      CNT(r->sh, CNT_RX_RELAYED_BYTES) += plain;
    }
    off += (u32)s;
  }
  r->rq_n = 0;
}

/* Rewrites the path id, seals for `oslot` and queues the cell (plaintext at buf+HDR, `clen`). */
static void rx_relay(rx_t *r, u8 *buf, u32 clen, u32 oslot, u32 opid, u32 e) {
  u8 *sh = r->sh;
  if (oslot >= MAX_PEERS || !V32(PEER(sh, oslot), PO_ACTIVE)) { CNT(sh, CNT_DROP_RX_RELAY_NO_OUT_KEY)++; return; }
  u8 *p = PEER(sh, oslot);
  send_key_t *k = relay_key(r, oslot);
  if (!k) { CNT(sh, CNT_DROP_RX_RELAY_NO_OUT_KEY)++; return; }
  if (r->rq_n == RELAY_Q) rx_relay_flush(r);
  u32 q = r->rq_n, namelen = 0;
  if (!tx_endpoint(p, r->rq_names[q], &namelen)) { CNT(sh, CNT_DROP_RX_RELAY_NO_OUT_KEY)++; return; }
  wr32le(buf + HDR, opid);
  if (!relay_seal(r, k, p, buf, clen)) return;
  u8 *le = LABEL(sh, e);
  V64(le, LE_CELLS)++;
  V64(le, LE_BYTES) += clen;
  r->rq_iov[q].iov_base = buf;
  r->rq_iov[q].iov_len = HDR + clen + TAG;
  struct msghdr *m = &r->rq_msgs[q].msg_hdr;
  m->msg_name = r->rq_names[q];
  m->msg_namelen = namelen;
  m->msg_iov = &r->rq_iov[q];
  m->msg_iovlen = 1;
  m->msg_control = 0;
  m->msg_controllen = 0;
  m->msg_flags = 0;
  r->rq_slot[q] = (int)oslot;
  r->rq_n = q + 1;
}

/* One PathCell or RelayCell datagram: open, then relay, hand up (opened, marked) or drop.
 * Returns 1 when it went to the control ring. Each datagram is counted under exactly one of:
 * short, malformed header, unknown index, replay, bad tag, cell malformed, unknown label,
 * relay drops, relayed (after the send), control (handed up). */
static int rx_cell(rx_t *r, u8 *buf, u32 len, const u8 *name, u32 namelen) {
  u8 *sh = r->sh;
  if (len < HDR + TAG + CELL_HDR) { CNT(sh, CNT_DROP_RX_SHORT)++; return 0; }
  if (buf[1] | buf[2] | buf[3]) { CNT(sh, CNT_DROP_RX_MALFORMED_HEADER)++; return 0; }
  int slot = -1;
  rx_key_t *t = rx_key(r, rd32le(buf + 4), &slot);
  if (!t) { CNT(sh, CNT_DROP_RX_UNKNOWN_INDEX)++; return 0; }
  u32 which = (u32)(t - r->keys);
  rx_key_t *k = buf[0] == MSG_RELAY_CELL ? &r->relay_keys[which] : &r->cell_keys[which];
  if (!k->valid) { CNT(sh, CNT_DROP_RX_UNKNOWN_INDEX)++; return 0; }
  u64 ctr = rd64le(buf + 8);
  if (!replay_check(k, ctr)) { CNT(sh, CNT_DROP_RX_REPLAY)++; return 0; }
  if (!rx_open(k, buf, len, ctr)) { CNT(sh, CNT_DROP_RX_BAD_TAG)++; return 0; }
  if (!replay_update(k, ctr)) { CNT(sh, CNT_DROP_RX_REPLAY)++; return 0; }
  rx_note_source(PEER(sh, slot), name, namelen, which & 1);
  CNT(sh, CNT_RX_CELLS)++;
  u8 *cell = buf + HDR;
  u32 clen = len - HDR - TAG, pid = rd32le(cell), cmd = cell[4];
  if (cell[5] != 0 || clen > CELL_MAX) { CNT(sh, CNT_DROP_RX_CELL_MALFORMED)++; return 0; }
  if (pid != 0 && (cmd == CELL_CMD_DATA || cmd == CELL_CMD_KEEPALIVE)) {
    u32 body = clen - CELL_HDR;
    if (cmd == CELL_CMD_DATA ? body < CELL_MIN_DATA : body != CELL_KEEPALIVE_BODY) {
      CNT(sh, CNT_DROP_RX_CELL_MALFORMED)++;
      return 0;
    }
    u32 oslot = 0, opid = 0, e = 0;
    int hit = label_lookup(sh, (u32)slot, pid, &oslot, &opid, &e);
    if (hit == 0 && V32(sh, G_LABEL_STRICT)) { CNT(sh, CNT_DROP_RX_CELL_UNKNOWN_LABEL)++; return 0; }
    if (hit == -2) CNT(sh, CNT_RX_CELL_LABEL_BUSY)++; /* the main thread decides */
    if (hit == 1 && oslot != (u32)LABEL_LOCAL) { rx_relay(r, buf, clen, oslot, opid, e); return 0; }
  }
  buf[0] = MSG_PATH_CELL;
  buf[1] = CELL_OPENED_MARK;
  return rx_control(r, buf, len, name, namelen);
}
