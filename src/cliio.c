/*
 * cliio.c: the client's data in and answers out (bgservice(1)): the
 * request's data from the argument or standard input, the answer on
 * standard output or its error on standard error, each converted from
 * or to the local charset (-C); the exit status for an answer.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "charset.h"
#include "cli.h"
#include "dial.h"
#include "proto.h"
#include "util.h"

/* Write an answer's payload, converted to the local charset (-C). */
static int
write_out(const char *data, size_t len)
{
	struct buf conv = { 0 };
	int	   r;

	if (cli.charset != NULL) {
		if (charset_convert("UTF-8", cli.charset, data, len, &conv) ==
		    -1)
			errx(EXIT_SERVICE,
			    "the answer cannot be converted to "
			    "%s",
			    cli.charset);
		data = conv.data;
		len = conv.len;
	}
	r = fwrite(data, 1, len, stdout) == len ? 0 : -1;
	buf_free(&conv);
	return r;
}

/* Print the answer, or its error on stderr; the exit status for it. */
int
cliio_finish(int code, const struct buf *ans)
{
	if (code >= PROTO_DONE && code < 300) {
		if (ans->len > 0 && write_out(ans->data, ans->len) == -1)
			err(EXIT_TEMP, "stdout");
		if (fflush(stdout) == EOF)
			err(EXIT_TEMP, "stdout");
		return 0;
	}
	fprintf(stderr, "bgservice: %d: %.*s\n", code, (int)ans->len,
	    ans->data);
	/* The service ran and failed, timed out or said too much. */
	if (code == proto_err_code(ERR_RUN_FAILED) ||
	    code == proto_err_code(ERR_RUN_TIMEOUT) ||
	    code == proto_err_code(ERR_RUN_OVERFLOW))
		return EXIT_SERVICE;
	return code >= 400 && code < 500 ? EXIT_REFUSED : EXIT_TEMP;
}

/* Convert DATA from the local charset (-C) to UTF-8, the wire's. */
static void
data_to_utf8(struct buf *data)
{
	struct buf conv = { 0 };

	if (cli.charset == NULL)
		return;
	if (charset_convert(cli.charset, "UTF-8", data->data, data->len,
		&conv) == -1)
		errx(EXIT_REFUSED, "the data is not valid %s", cli.charset);
	buf_free(data);
	*data = conv;
}

/* DATA from the argument, or all of standard input, as UTF-8. */
void
cliio_read(int argc, char *argv[], int i, struct buf *data)
{
	ssize_t n;

	if (i < argc) {
		if (buf_append(data, argv[i], strlen(argv[i])) == -1)
			err(EXIT_TEMP, "malloc");
		data_to_utf8(data);
		return;
	}
	for (;;) {
		if ((n = buf_read(data, STDIN_FILENO, 0)) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TEMP, "stdin");
		}
		if (n == 0)
			break;
	}
	data_to_utf8(data);
}
