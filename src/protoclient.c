/*
 * protoclient.c: the client's side of the wire (proto.c): the header of
 * a framed request with its options and token, the head of a datagram,
 * and the reading of the daemon's answers in either form.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "protopriv.h"

/* The value of the three digits of a code at S. */
static int
code_value(const char *s)
{
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/*
 * If an original-form answer is an error line "NNN: ...", its code (400
 * to 599), else 0.
 */
int
proto_answer_code(const char *buf, size_t len)
{
	if (len < 4 || (buf[0] != '4' && buf[0] != '5') ||
	    !isdigit((unsigned char)buf[1]) ||
	    !isdigit((unsigned char)buf[2]) || buf[3] != ':')
		return 0;
	return code_value(buf);
}

/* Client side: the header of a framed request for VERB. */
int
proto_frame_request(char *buf, size_t size, enum proto_verb verb,
    const char *arg, size_t length)
{
	return proto_frame_request_token(buf, size, verb, arg, length, NULL);
}

/* The same, presenting TOKEN (NULL: none). */
int
proto_frame_request_token(char *buf, size_t size, enum proto_verb verb,
    const char *arg, size_t length, const char *token)
{
	return proto_frame_request_opts(buf, size, verb, arg, length, token,
	    NULL);
}

/* Append one " NAME=VALUE" option word to the header in BUF at *LEN. */
static void
add_word(char *buf, size_t size, size_t *len, const char *name,
    const char *value)
{
	int r;

	if (*len >= size)
		return;
	r = snprintf(buf + *len, size - *len, " %s=%s", name, value);
	*len += r < 0 ? size : (size_t)r;
}

/* The option words of O (NULL: none) after the header in BUF at *LEN. */
static void
add_opts(char *buf, size_t size, size_t *len, const struct job_opts *o)
{
	char   num[24], after[JOB_AFTER_MAX * (JOB_ID_MAX + 1)];
	size_t alen;
	int    i;

	if (o == NULL)
		return;
	if (o->has_priority) {
		snprintf(num, sizeof(num), "%d", o->priority);
		add_word(buf, size, len, "priority", num);
	}
	if (o->delay > 0) {
		snprintf(num, sizeof(num), "%lld", o->delay);
		add_word(buf, size, len, "delay", num);
	}
	if (o->at > 0) {
		snprintf(num, sizeof(num), "%lld", o->at);
		add_word(buf, size, len, "at", num);
	}
	if (o->key[0] != '\0')
		add_word(buf, size, len, "key", o->key);
	for (i = 0, alen = 0; i < o->nafter && alen < sizeof(after); i++)
		alen += (size_t)snprintf(after + alen, sizeof(after) - alen,
		    "%s%s", i > 0 ? "," : "", o->after[i]);
	if (o->nafter > 0)
		add_word(buf, size, len, "after", after);
}

/*
 * Can S (NULL: none) be one word of a framed header?  A space would end
 * the word, a line end the header and begin another request on the same
 * connection: no space and no control character.
 */
static int
one_word(const char *s)
{
	if (s == NULL)
		return 1;
	for (; *s != '\0'; s++)
		if (*s == ' ' || iscntrl((unsigned char)*s))
			return 0;
	return 1;
}

/*
 * The header of a framed request for VERB with the options O (NULL:
 * none) and presenting TOKEN (NULL: none).  Returns its length, or -1:
 * EINVAL if ARG, TOKEN or O's key is not one word (one_word()),
 * ENAMETOOLONG if the header does not fit SIZE.
 */
int
proto_frame_request_opts(char *buf, size_t size, enum proto_verb verb,
    const char *arg, size_t length, const char *token,
    const struct job_opts *o)
{
	size_t len;
	int    r;

	if (!one_word(arg) || !one_word(token) ||
	    (o != NULL && !one_word(o->key))) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(buf, size, "%c%s%s%s %zu", FRAME_MARK,
	    proto_verb_name(verb), arg != NULL ? " " : "",
	    arg != NULL ? arg : "", length);
	len = r < 0 ? size : (size_t)r;
	add_opts(buf, size, &len, o);
	if (token != NULL)
		add_word(buf, size, &len, "token", token);
	if (len + 1 >= size || len + 1 > FRAME_HEADER_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

/*
 * Client side: what comes before the data of a datagram, "SERVICE:".
 * Returns its length, or -1 (EINVAL) if SERVICE is not a service name.
 */
int
proto_datagram_head(char *buf, size_t size, const char *service)
{
	int r;

	if (!proto_valid_name(service, strlen(service))) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(buf, size, "%s:", service);
	if (r < 0 || (size_t)r >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return r;
}

/*
 * Client side: an error line of the original form, "NNN: text" LF, as
 * the master answers a connection it turns away.  Returns the length of
 * what comes before the text (*LENGTH is the text's, without the LF), 0
 * while the line may still come whole, -1 if it is not one.
 */
int
proto_parse_error_line(const char *buf, size_t len, int *code, size_t *length)
{
	const char *nl;
	int	    c;

	if ((nl = memchr(buf, '\n', len)) == NULL)
		return len >= FRAME_HEADER_MAX ? -1 : 0;
	if ((c = proto_answer_code(buf, len)) == 0 || nl - buf < 5)
		return -1;
	*code = c;
	*length = nl - buf - 5;
	return 5;
}

/* Client side: whether the payload is the answer to helo. */
int
proto_is_helo_answer(const char *buf, size_t len)
{
	return proto_equals(buf, len, HELO_ANSWER);
}

int
proto_parse_frame_answer(const char *buf, size_t len, int *code,
    size_t *length)
{
	const char *nl, *sp, *end;
	size_t	    hlen;

	if (len == 0 || buf[0] != FRAME_MARK)
		return -1;
	/* "!NNN ", 10 digits, " retry=" and 10 digits, a newline. */
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return len < 34 ? 0 : -1;
	hlen = nl - buf;
	if (hlen < 6 || (sp = memchr(buf, ' ', hlen)) != buf + 4)
		return -1;
	if (!isdigit((unsigned char)buf[1]) ||
	    !isdigit((unsigned char)buf[2]) || !isdigit((unsigned char)buf[3]))
		return -1;
	*code = code_value(buf + 1);
	/* Words after the length, such as retry=N, are fields to skip. */
	if ((end = memchr(sp + 1, ' ', nl - sp - 1)) == NULL)
		end = nl;
	if (proto_parse_length(sp + 1, end - sp - 1, length) == -1)
		return -1;
	return (int)hlen + 1;
}
