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
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
  memset(&sp, 0, sizeof sp);
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
