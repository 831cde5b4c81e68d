/* The RX loop: recvmmsg (UDP GRO) → per-datagram checks → delivery. */

/* Handles one datagram; returns 1 if it went to the control ring. */
static int rx_datagram(rx_t *r, u8 *buf, u32 len, int flags, const u8 *name, u32 namelen) {
  u8 *sh = r->sh;
  if (flags & MSG_TRUNC) { CNT(sh, CNT_DROP_RX_TRUNCATED)++; return 0; }
  if (len < 1) { CNT(sh, CNT_DROP_RX_SHORT)++; return 0; }
  if (buf[0] == MSG_PATH_CELL || buf[0] == MSG_RELAY_CELL) return rx_cell(r, buf, len, name, namelen);
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

/* The RX loop: returns 1 when control datagrams were queued (thread.c wakes the main thread
 * and calls again), 0 when stopped, -errno on a fatal error. */
int dp_rx_run(rx_t *r) {
  struct pollfd pf[2];
  V32(r->sh, G_RX_STATUS) = 1;
  for (;;) {
    if (V32(r->sh, G_STOP)) break;
    for (u32 i = 0; i < r->batch; i++) {
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
    int n = recvmmsg(r->udp, r->msgs, r->batch, MSG_DONTWAIT, 0);
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
    rx_relay_flush(r);
    if (ctrl) return 1;
  }
  V32(r->sh, G_RX_STATUS) = 2;
  return 0;
}
