/*
 * sig.c: the daemon's signals.  HUP, TERM, INT, CHLD, USR1 (reopen the
 * log) and USR2 (the master's wake-up call to a child waiting for a job)
 * are blocked at all times; the processes unblock them only inside
 * ppoll(2), by passing sig_waitmask, so that a signal can never slip in
 * between a check of the flags and the wait (the sshd pattern), and the
 * master also for an instant once a turn of its loop, before it looks
 * at the flags (sig_deliver()).
 */
#include <signal.h>
#include <string.h>

#include "log.h"
#include "sig.h"

volatile sig_atomic_t sig_hup;
volatile sig_atomic_t sig_term;
volatile sig_atomic_t sig_chld;
volatile sig_atomic_t sig_usr1;
volatile sig_atomic_t sig_wake;
sigset_t	      sig_waitmask;

static void
sig_handler(int sig)
{
	switch (sig) {
	case SIGHUP:
		sig_hup = 1;
		break;
	case SIGTERM:
	case SIGINT:
		sig_term = 1;
		break;
	case SIGCHLD:
		sig_chld = 1;
		break;
	case SIGUSR1:
		sig_usr1 = 1;
		break;
	case SIGUSR2:
		sig_wake = 1;
		break;
	}
}

void
sig_init(int foreground)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR1,
		SIGUSR2 };
	struct sigaction sa;
	sigset_t	 block;
	size_t		 i;
	int		 sig;

	/* Whatever we were started with, dispositions start at default. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);

	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &block, &sig_waitmask) == -1)
		fatal("sigprocmask");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&sig_waitmask, sigs[i]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal("sigaction");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
	/* SIGINT stops the daemon only in the foreground, from a terminal. */
	if (!foreground && sigaction(SIGINT, &sa, NULL) == -1)
		fatal("sigaction");
}

/*
 * Take the signals that came while the process was busy.  ppoll(2)
 * delivers a pending signal only when it would wait: when descriptors
 * are ready at once it restores the mask with the signal still pending.
 * A master that always finds work (callers at every turn of its loop)
 * would then never learn that a child ended, nor that it is to stop or
 * reload, and its unreaped children would count against max_per_source
 * and max_connections.  So once a turn, if one of ours is pending, the
 * signals are let through for an instant (one sigpending(2) otherwise).
 */
void
sig_deliver(void)
{
	sigset_t pending, old;

	if (sigpending(&pending) == -1 || sigisemptyset(&pending))
		return;
	if (sigprocmask(SIG_SETMASK, &sig_waitmask, &old) == 0)
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Forget flags a forked child inherited from its parent. */
void
sig_clear(void)
{
	sig_hup = sig_term = sig_chld = sig_usr1 = sig_wake = 0;
}

/*
 * Before exec, in a child made by vfork(2): the signals the daemon
 * handles or ignores back to their defaults (every other one was set to
 * its default at start, by sig_init()), then an empty mask, so that no
 * handler of ours can run in the child and the service starts as if
 * from a shell.  System calls only.
 */
void
sig_reset(void)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR1,
		SIGUSR2, SIGPIPE };
	struct sigaction sa;
	sigset_t	 none;
	size_t		 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}
