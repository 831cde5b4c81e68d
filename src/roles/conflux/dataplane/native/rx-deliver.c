/* RX delivery: inner source check, control ring, TUN writes and TCP coalescing (offload). */

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
 * extension headers) join a run as the kernel's tcp_gro_receive would (same addresses, ports,
 * ack, window, options, TTL/TOS, consecutive IPv4 ids, next sequence number); everything else is written
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
  /* IPv4 ids must count up along the run: the kernel renumbers the segments of a GSO write that
   * way, so a run with fixed ids (which inet_gro_receive allows under DF) would not round-trip. */
  u32 id = rd16be(pkt + 4), first_id = rd16be(pip + 4);
  int same_l3 = l3 == 20
    ? pkt[1] == pip[1] && pkt[8] == pip[8] && (pkt[6] & 0x40) == (pip[6] & 0x40) && memcmp(pkt + 12, pip + 12, 8) == 0 &&
      id == ((first_id + r->pend_segs) & 0xffff)
    : memcmp(pkt, pip, 4) == 0 && pkt[7] == pip[7] && memcmp(pkt + 8, pip + 8, 32) == 0;
  if (r->pend_len && !r->pend_closed && r->pend_l3 == l3 && r->pend_segs < MAX_COALESCE &&
      r->pend_len + payload <= MAX_SUPER && payload <= r->pend_mss && hdrlen == r->pend_hdrlen &&
      rd32be(tcp + 4) == r->pend_next_seq && same_l3 && memcmp(tcp, ptcp, 4) == 0 &&
      memcmp(tcp + 8, ptcp + 8, 4) == 0 && tcp[14] == ptcp[14] && tcp[15] == ptcp[15] &&
      memcmp(tcp + 20, ptcp + 20, hdrlen - l3 - 20) == 0) {
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
