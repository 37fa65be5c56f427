/*
 * charset.c: iconv(3) conversions.  Data travels as UTF-8; a service may
 * declare the charset its command speaks, and the client may convert
 * from and to the local one.  A byte sequence that is invalid in the
 * source charset, or has no equivalent in the target one, is an error
 * (EILSEQ): nothing is ever transliterated or dropped silently, even for
 * a name that asks iconv for it ("ASCII//TRANSLIT"): iconv(3) counts such
 * irreversible conversions, and any is taken as EILSEQ.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "charset.h"

/* Can iconv convert between NAME and UTF-8 both ways? */
int
charset_valid(const char *name)
{
	iconv_t cd;

	if ((cd = iconv_open(name, "UTF-8")) == (iconv_t)-1)
		return 0;
	iconv_close(cd);
	if ((cd = iconv_open("UTF-8", name)) == (iconv_t)-1)
		return 0;
	iconv_close(cd);
	return 1;
}

int
charset_is_utf8(const char *name)
{
	return name == NULL || strcasecmp(name, "UTF-8") == 0 ||
	    strcasecmp(name, "UTF8") == 0;
}

/*
 * Convert LEN bytes at IN from FROM to TO, appending to OUT.  Returns 0,
 * or -1 with errno EILSEQ (invalid or unconvertible input), EINVAL
 * (input ends inside a character) or another error.
 */
int
charset_convert(const char *from, const char *to, const char *in, size_t len,
    struct buf *out)
{
	iconv_t cd;
	char   *ip = (char *)in, *op;
	size_t	il = len, ol, r;
	int	saved;

	if ((cd = iconv_open(to, from)) == (iconv_t)-1)
		return -1;
	for (;;) {
		if (buf_reserve(out, il * 4 + 16) == -1)
			goto fail;
		op = out->data + out->len;
		ol = out->size - out->len;
		r = iconv(cd, il > 0 ? &ip : NULL, &il, &op, &ol);
		out->len = op - out->data;
		if (r != (size_t)-1 && r > 0) {
			errno = EILSEQ; /* transliterated: "?" for a char */
			goto fail;
		}
		if (r != (size_t)-1) {
			if (il == 0 && ip != NULL) {
				ip = NULL; /* flush the shift state */
				continue;
			}
			break;
		}
		if (errno != E2BIG)
			goto fail;
	}
	iconv_close(cd);
	return 0;
fail:
	saved = errno;
	iconv_close(cd);
	errno = saved;
	return -1;
}
