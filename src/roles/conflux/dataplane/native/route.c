/* Overlay routing lookup for the TX loop: host-route hash table, then prefixes longest first. */

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
