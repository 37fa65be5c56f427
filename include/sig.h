/*
 * sig.h: signal handling.  Handlers only set flags; the signals stay
 * blocked except while a process waits in ppoll(2) with sig_waitmask,
 * and while the master takes those that came meanwhile (sig_deliver()).
 */
#ifndef SIG_H
#define SIG_H

#include <signal.h>

extern volatile sig_atomic_t sig_hup;
extern volatile sig_atomic_t sig_term;
extern volatile sig_atomic_t sig_chld;
extern volatile sig_atomic_t sig_usr1; /* reopen the log file */
extern volatile sig_atomic_t sig_wake; /* a job waited for is done */
extern sigset_t		     sig_waitmask;

void sig_init(int foreground);
void sig_clear(void);
void sig_deliver(void);
void sig_reset(void);

#endif /* SIG_H */
