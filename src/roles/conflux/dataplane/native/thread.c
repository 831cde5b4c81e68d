/*
 * Loop threads: each native loop (TX, RX) runs on a pthread of its own. A Bun Worker per loop
 * would cost a second JavaScript VM (≈ 3.5 MB resident each, measured) for what is one blocking
 * C call, so the loops get plain threads and no JavaScript runs off the main thread.
 *
 * A loop returns 1 when the main thread has work (control datagrams were queued) and is then
 * called again; any other value ends the thread. The main thread is woken through a pipe that
 * Bun's event loop reads: one byte per wake, and only when the wake word says the main thread is
 * not already due to look (it stores 0 there before it drains, so no wake is lost — a Dekker
 * handshake: each side fences between its store and its load).
 *
 * Signals stay with Bun's own threads: a loop thread blocks them all.
 */
typedef unsigned long pthread_t;
typedef struct { unsigned long bits[16]; } sigset_t;
int pthread_create(pthread_t *th, const void *attr, void *(*fn)(void *), void *arg);
int pthread_join(pthread_t th, void **ret);
int pthread_sigmask(int how, const sigset_t *set, sigset_t *old);
int sigfillset(sigset_t *set);
#define SIG_BLOCK 0

typedef int (*loop_fn)(void *ctx);

typedef struct {
  loop_fn run;
  void *ctx;
  volatile u32 *wake_word; /* 1 = the main thread has been woken and has not looked yet; 0 may be null */
  int wake_fd;
  pthread_t th;
  volatile int done;
  volatile int code;
} loop_thread_t;

static void full_fence(void) { __asm__ __volatile__("mfence" ::: "memory"); }

static void wake_main(loop_thread_t *t, int always) {
  u8 one = 1;
  if (!always && t->wake_word) {
    full_fence(); /* our queue writes before the wake word read */
    if (*t->wake_word) return;
    *t->wake_word = 1;
  }
  write(t->wake_fd, &one, 1); /* non-blocking: a full pipe already means "look" */
}

static void *loop_thread_main(void *arg) {
  loop_thread_t *t = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, 0);
  int code;
  while ((code = t->run(t->ctx)) == 1) wake_main(t, 0);
  t->code = code;
  full_fence();
  t->done = 1;
  wake_main(t, 1);
  return 0;
}

/* Starts `run(ctx)` on a new thread; null if no memory or no thread. */
loop_thread_t *dp_thread_start(void *run, void *ctx, void *wake_word, int wake_fd) {
  loop_thread_t *t = calloc(1, sizeof(loop_thread_t));
  if (!t) return 0;
  t->run = (loop_fn)run;
  t->ctx = ctx;
  t->wake_word = wake_word;
  t->wake_fd = wake_fd;
  if (pthread_create(&t->th, 0, loop_thread_main, t) != 0) { free(t); return 0; }
  return t;
}

/* 1 once the loop has returned (its code is then final). */
int dp_thread_done(loop_thread_t *t) { return t->done; }

/* The loop's return value. */
int dp_thread_code(loop_thread_t *t) { return t->code; }

/* Joins a finished thread and frees it; call only after dp_thread_done() said 1. */
void dp_thread_join(loop_thread_t *t) {
  pthread_join(t->th, 0);
  free(t);
}
