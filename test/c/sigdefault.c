/*
** test/c/sigdefault.c: sigdefault program [args...] runs the program with
** the default action for signals 32 and 33, which glibc keeps for itself
** (SIGCANCEL, SIGSETXID). glibc before 2.38 leaves them ignored in the
** children of posix_spawn, and GNU make 4.3 starts its recipes that way;
** an ignored signal stays ignored across exec, and libuv resets only
** signals 1 to 31 in the children of uv_spawn. The conformance suite kills
** a child with signal 32, so its run under make needs this. glibc's
** sigaction refuses these two signals: the system call does it.
*/
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

struct kernel_sigaction {  /* what rt_sigaction takes on Linux */
  void (*handler) (int);
  unsigned long flags;
  void (*restorer) (void);
  unsigned long mask;
};

int main (int argc, char **argv) {
  int sig;
  if (argc < 2) {
    fprintf(stderr, "usage: sigdefault program [args...]\n");
    return 2;
  }
  for (sig = 32; sig <= 33; sig++) {
    struct kernel_sigaction old, dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.handler = SIG_DFL;
    if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(dfl.mask)) == 0 &&
        old.handler == SIG_IGN)
      syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
  }
  execvp(argv[1], argv + 1);
  perror(argv[1]);
  return 127;
}
