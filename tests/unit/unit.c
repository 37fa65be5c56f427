/*
 * unit.c: the runner.  "unit" runs every test, "unit -l" lists them,
 * "unit NAME ..." runs those.  Each test runs in a child of its own in a
 * fresh temp folder; the last line is "N passed, M failed".
 */
#include <sys/wait.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

extern const struct unit_test __start_unit_tests[];
extern const struct unit_test __stop_unit_tests[];

void
unit_write(const char *name, const char *text)
{
	FILE *f;

	if ((f = fopen(name, "w")) == NULL)
		err(1, "%s", name);
	fputs(text, f);
	if (fclose(f) == EOF)
		err(1, "%s", name);
}

static int
run_one(const struct unit_test *t)
{
	char  dir[] = "/tmp/bgs-unit.XXXXXX", cmd[64];
	pid_t pid;
	int   status;

	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	fflush(NULL);
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		if (chdir(dir) == -1)
			err(1, "chdir");
		t->fn();
		exit(0);
	}
	if (waitpid(pid, &status, 0) == -1)
		err(1, "waitpid");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		warnx("could not remove %s", dir);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok - %s\n", t->name);
		return 1;
	}
	printf("not ok - %s\n", t->name);
	return 0;
}

int
main(int argc, char *argv[])
{
	const struct unit_test *t;
	int			i, pass = 0, fail = 0, found;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		for (t = __start_unit_tests; t < __stop_unit_tests; t++)
			printf("%s\n", t->name);
		return 0;
	}
	for (t = __start_unit_tests; t < __stop_unit_tests; t++) {
		if (argc > 1) {
			for (found = 0, i = 1; i < argc; i++)
				found |= strcmp(argv[i], t->name) == 0;
			if (!found)
				continue;
		}
		if (run_one(t))
			pass++;
		else
			fail++;
	}
	printf("%d passed, %d failed\n", pass, fail);
	return fail == 0 && pass > 0 ? 0 : 1;
}
