/*
 * Test-only UDP forwarder that damages traffic on purpose: everything received on socket X goes
 * to endpoint X' (and Y to Y'), keeping UDP GRO batches together (resent with UDP_SEGMENT), and
 * one bit is flipped in every EVERY-th sealed transport segment (first byte 4, longer than an
 * empty keepalive), always past the 16-byte transport header so that the receiver must reject it
 * as a bad tag. Compiled by bitflip-forwarder.fixture.ts with bun:ffi's cc; never product code.
 *
 * Config block (shared with JS, little-endian):
 *   0 u32 stop   4 i32 fd[0]   8 i32 fd[1]   12 u32 every
 *   16 sockaddr_in dest[0] (16)   32 sockaddr_in dest[1] (16)
 *   64 u64 counters: per direction d at 64 + 32·d: segments, flipped, messages, send errors
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long size_t;

struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
  void *msg_name; u32 msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
  void *msg_control; size_t msg_controllen; int msg_flags;
};
struct mmsghdr { struct msghdr msg_hdr; u32 msg_len; };
struct pollfd { int fd; short events; short revents; };
int recvmmsg(int fd, struct mmsghdr *v, u32 n, int flags, void *timeout);
int sendmmsg(int fd, struct mmsghdr *v, u32 n, int flags);
long sendto(int fd, const void *b, size_t n, int flags, const void *to, u32 tolen);
int poll(struct pollfd *fds, unsigned long n, int timeout);
void *calloc(size_t n, size_t size);
void free(void *p);
void *memset(void *d, int c, size_t n);

#define N 64
#define BUFSZ 65536
#define MSG_DONTWAIT 0x40
#define SOL_UDP 17
#define UDP_SEGMENT 103
#define UDP_GRO 104
#define V32(b, o) (*(volatile u32 *)((u8 *)(b) + (o)))
#define C64(b, d, i) (*(volatile u64 *)((u8 *)(b) + 64 + 32 * (d) + 8 * (i)))

typedef struct {
  u8 *bufs;
  u8 cm[N][64];
  u8 ocm[N][24];
  struct iovec iov[N];
  struct mmsghdr m[N];
  u32 seg[N];
} io_t;

static u32 gro_size(struct msghdr *m) {
  u8 *c = m->msg_control;
  u64 off = 0, total = m->msg_controllen;
  while (c && off + 16 <= total) {
    u64 clen = *(u64 *)(c + off);
    if (clen < 16 || off + clen > total) break;
    if (*(int *)(c + off + 8) == SOL_UDP && *(int *)(c + off + 12) == UDP_GRO && clen >= 20) return (u32) * (int *)(c + off + 16);
    off += (clen + 7) & ~7ULL;
  }
  return 0;
}

static void pump(u8 *cfg, int d, io_t *io) {
  int fd = *(int *)(cfg + 4 + 4 * d);
  u8 *dest = cfg + 16 + 16 * d;
  u32 every = V32(cfg, 12);
  for (int i = 0; i < N; i++) {
    io->iov[i].iov_base = io->bufs + (u64)i * BUFSZ;
    io->iov[i].iov_len = BUFSZ;
    struct msghdr *h = &io->m[i].msg_hdr;
    h->msg_name = 0; h->msg_namelen = 0; h->msg_iov = &io->iov[i]; h->msg_iovlen = 1;
    h->msg_control = io->cm[i]; h->msg_controllen = 64; h->msg_flags = 0;
  }
  int n = recvmmsg(fd, io->m, N, MSG_DONTWAIT, 0);
  if (n <= 0) return;
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &io->m[i].msg_hdr;
    u8 *buf = io->bufs + (u64)i * BUFSZ;
    u32 len = io->m[i].msg_len, seg = gro_size(h);
    if (seg == 0 || seg >= len) seg = len;
    for (u32 off = 0; off < len; off += seg) {
      u32 sl = len - off < seg ? len - off : seg;
      u8 *p = buf + off;
      u64 k = ++C64(cfg, d, 0);
      if (p[0] == 4 && sl > 32 && every && k % every == 0) {
        u64 j = k / every;
        p[16 + (j * 7919) % (sl - 16)] ^= (u8)(1u << (j % 8));
        C64(cfg, d, 1)++;
      }
    }
    io->seg[i] = seg;
    io->iov[i].iov_len = len;
    h->msg_name = dest; h->msg_namelen = 16;
    h->msg_control = 0; h->msg_controllen = 0; h->msg_flags = 0;
    if (seg < len) {
      u8 *c = io->ocm[i];
      memset(c, 0, 24);
      *(u64 *)c = 18;
      *(int *)(c + 8) = SOL_UDP;
      *(int *)(c + 12) = UDP_SEGMENT;
      *(u16 *)(c + 16) = (u16)seg;
      h->msg_control = c; h->msg_controllen = 24;
    }
  }
  int off = 0;
  while (off < n) {
    int r = sendmmsg(fd, io->m + off, (u32)(n - off), 0);
    if (r > 0) { C64(cfg, d, 2) += r; off += r; continue; }
    /* This message could not go as one: send its segments one by one. */
    struct msghdr *h = &io->m[off].msg_hdr;
    u8 *buf = io->iov[off].iov_base;
    u32 len = io->iov[off].iov_len, seg = io->seg[off];
    for (u32 o = 0; o < len; o += seg)
      if (sendto(fd, buf + o, len - o < seg ? len - o : seg, 0, h->msg_name, 16) < 0) C64(cfg, d, 3)++;
    off++;
  }
}

/* Runs until cfg.stop is set; returns 0 (ends its loop thread: see loop-threads.ts). */
int fwd_run(u8 *cfg) {
  io_t *io = calloc(1, sizeof(io_t));
  if (!io) return -12;
  io->bufs = calloc(N, BUFSZ);
  if (!io->bufs) { free(io); return -12; }
  struct pollfd pf[2];
  while (!V32(cfg, 0)) {
    pf[0].fd = *(int *)(cfg + 4); pf[0].events = 1; pf[0].revents = 0;
    pf[1].fd = *(int *)(cfg + 8); pf[1].events = 1; pf[1].revents = 0;
    if (poll(pf, 2, 100) <= 0) continue;
    if (pf[0].revents) pump(cfg, 0, io);
    if (pf[1].revents) pump(cfg, 1, io);
  }
  free(io->bufs);
  free(io);
  return 0;
}
