/*
 * unit.h: a tiny test harness in the manner of beanstalkd's ct.  Each
 * TEST runs in a forked child, in a temp folder of its own.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
	const char	*name;
	void		(*fn)(void);
};

#define TEST(name)							\
	static void name(void);						\
	static const struct unit_test unit_##name			\
	    __attribute__((used, section("unit_tests"), aligned(16))) =	\
	    { #name, name };						\
	static void name(void)

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n",		\
		    __FILE__, __LINE__, #cond);				\
		exit(1);						\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__,	\
		    __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");	\
		exit(1);						\
	}								\
} while (0)

/* Write TEXT to the file NAME in the test's folder. */
void	unit_write(const char *name, const char *text);

#endif /* UNIT_H */
