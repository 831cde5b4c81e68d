/*
 * The delay forwarder's packet loop (compiled at start-up with bun:ffi's TinyCC).
 *
 * Reads frames from a TAP descriptor, keeps each one for exactly `delay_ns` after it was read,
 * then writes it back to the same descriptor, in order. Timing uses CLOCK_MONOTONIC and ppoll()
 * with nanosecond timeouts, so the added delay is precise to tens of microseconds even when the
 * machine is busy (a JavaScript timer loop drifted by 5-15 ms under load).
 *
 * The loop asks for SCHED_FIFO (priority 10) for its own thread: it sleeps in ppoll() almost
 * all the time, and a real-time wake-up keeps the delay exact on a loaded machine (with ordinary
 * scheduling, a load average of 14 on two cores added 5-80 ms). If the request is refused, it
 * runs with ordinary priority. The kernel's RT throttling still bounds it to 95 % of a CPU.
 *
 * The ring holds SLOTS frames of at most SLOT_BYTES; a frame that does not fit (ring full or
 * frame too large) is dropped and counted, like a tail drop on a real queue. Never returns
 * unless the descriptor fails; the process is ended by a signal.
 */
/*
 * No #include: the few libc declarations are written out (64-bit Linux ABI, glibc or musl), so
 * the loop compiles without libc headers installed.
 */
typedef long ssize_t;
typedef unsigned long size_t;
typedef long long int64_t;
struct timespec {
  long tv_sec;
  long tv_nsec;
};
struct pollfd {
  int fd;
  short events;
  short revents;
};
struct sched_param {
  int sched_priority;
};
int clock_gettime(int clock, struct timespec *ts);
int ppoll(struct pollfd *fds, unsigned long nfds, const struct timespec *timeout, const void *sigmask);
ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
int fcntl(int fd, int cmd, ...);
int sched_setscheduler(int pid, int policy, const struct sched_param *param);
void *malloc(size_t n);
int *__errno_location(void);
#define errno (*__errno_location())

#define CLOCK_MONOTONIC 1
#define F_GETFL 3
#define F_SETFL 4
#define O_NONBLOCK 04000
#define POLLIN 0x001
#define POLLERR 0x008
#define POLLHUP 0x010
#define POLLNVAL 0x020
#define EINTR 4
#define EIO 5
#define EAGAIN 11
#define ENOMEM 12
#define SCHED_FIFO 1
#define NULL ((void *)0)

#define SLOTS 4096
#define SLOT_BYTES 2048

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* stats[0] frames sent, stats[1] dropped (full), stats[2] dropped (too large) */
int delay_loop(int fd, double delay_ms, double *stats) {
  int64_t delay_ns = (int64_t)(delay_ms * 1e6);
  unsigned char *buf = malloc((size_t)SLOTS * SLOT_BYTES);
  int64_t *due = malloc(sizeof(int64_t) * SLOTS);
  int *len = malloc(sizeof(int) * SLOTS);
  unsigned char scratch[65536];
  if (!buf || !due || !len) return -ENOMEM;
  struct sched_param sp;
  sp.sched_priority = 10;
  sched_setscheduler(0, SCHED_FIFO, &sp);
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
  int head = 0, count = 0;
  struct pollfd pfd;
  pfd.fd = fd;
  pfd.events = POLLIN;
  for (;;) {
    int64_t now = now_ns();
    while (count > 0 && due[head] <= now) {
      if (write(fd, buf + (size_t)head * SLOT_BYTES, len[head]) >= 0) stats[0] += 1;
      head = (head + 1) % SLOTS;
      count--;
    }
    struct timespec ts, *tsp = NULL;
    if (count > 0) {
      int64_t wait = due[head] - now;
      ts.tv_sec = wait / 1000000000LL;
      ts.tv_nsec = wait % 1000000000LL;
      tsp = &ts;
    }
    pfd.revents = 0;
    int r = ppoll(&pfd, 1, tsp, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) continue;
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) return -EIO;
    for (;;) {
      int tail = (head + count) % SLOTS;
      unsigned char *dst = count < SLOTS ? buf + (size_t)tail * SLOT_BYTES : scratch;
      ssize_t n = read(fd, dst, count < SLOTS ? SLOT_BYTES : sizeof scratch);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return -errno;
      }
      if (count >= SLOTS) {
        stats[1] += 1;
        continue;
      }
      if (n >= SLOT_BYTES) {
        /* Possibly truncated: a frame larger than a slot (MTU > 2000) is dropped. */
        stats[2] += 1;
        continue;
      }
      len[tail] = (int)n;
      due[tail] = now_ns() + delay_ns;
      count++;
    }
  }
}
